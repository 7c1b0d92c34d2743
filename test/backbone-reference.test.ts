// The onnxruntime graph against an independent float64 reference forward, layer by layer, for
// small configs with and without a class token, every GELU form, ln_pre, no patch bias,
// LayerScale and register tokens, both graph flavours, and every pooling mode.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBackbone } from '../src/backbone/index.js';
import type { BackboneConfig } from '../src/backbone/index.js';
import {
  layerOf, makeTimmWeights, randomFrames, referenceForward, referencePool, relError, smallConfig, writeTensors, type Tensors,
} from './backbone-helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bb-ref-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const N = 3;
// The issue asks for 1e-4; the graph lands near 5e-7, and swapping exact for tanh GELU alone
// moves it to ~1.2e-4, so a tighter bound keeps the test able to tell the two apart.
const TOLERANCE = 2e-5;
const cases: { label: string; config: BackboneConfig }[] = [
  { label: 'class token, exact GELU', config: smallConfig() },
  { label: 'no class token, tanh GELU', config: smallConfig({ classToken: false, gelu: 'tanh' }) },
  { label: 'class token, tanh GELU, 3 heads', config: smallConfig({ width: 48, heads: 3, mlpDim: 96, depth: 2 }) },
  { label: 'no class token, exact GELU, patch 4', config: smallConfig({ classToken: false, imageSize: 24, patchSize: 4, depth: 2 }) },
  { label: 'CLIP: ln_pre, no patch bias, quick GELU', config: smallConfig({ lnPre: true, patchBias: false, gelu: 'quick', layerNormEps: 1e-5 }) },
  { label: 'DINOv2 with registers: LayerScale, 3 registers', config: smallConfig({ layerScale: true, registers: 3, depth: 2 }) },
  { label: 'no class token, 2 registers, tanh GELU', config: smallConfig({ classToken: false, registers: 2, gelu: 'tanh', depth: 2 }) },
  { label: '36 px with patch 8: the last 4 pixels unseen, as PyTorch\'s strided conv', config: smallConfig({ imageSize: 36, depth: 1 }) },
];

describe.each(cases.map((c, index) => ({ ...c, index })))('graph vs reference: $label', ({ config, index }) => {
  let weights: Tensors;
  let file: string;
  let frames: Float32Array;
  let reference: Float64Array[];
  const n = (Math.floor(config.imageSize / config.patchSize)) ** 2 + (config.classToken ? 1 : 0) + (config.registers ?? 0);

  beforeAll(async () => {
    weights = makeTimmWeights(config, 7);
    file = path.join(dir, `w-${index}.safetensors`);
    await writeTensors(file, weights);
    frames = randomFrames(config, N, 1);
    reference = referenceForward(config, weights, frames, N);
  });

  for (const flavour of ['fused', 'plain'] as const) {
    it(`matches layer by layer with pool none (${flavour} graph)`, async () => {
      const bb = await loadBackbone({ config, weights: file, pool: 'none', flavour, threads: 1 });
      try {
        expect(bb.tokens).toBe(n);
        expect(bb.layers).toEqual([...Array(config.depth).keys()]);
        const out = await bb.forward(frames, N);
        expect(out.length).toBe(N * config.depth * n * config.width);
        for (let l = 0; l < config.depth; l++) {
          const err = relError(layerOf(out, N, config.depth, n, config.width, l), reference[l]!);
          expect(err, `layer ${l + 1}`).toBeLessThan(TOLERANCE);
        }
      } finally {
        await bb.dispose();
      }
    });
  }

  for (const pool of ['cls', 'mean', 'grid:1', 'grid:2', 'grid:3']) {
    it(`pools inside the graph: ${pool}`, async () => {
      const bb = await loadBackbone({ config, weights: file, pool, threads: 1 });
      try {
        const out = await bb.forward(frames, N);
        const P = bb.tokens;
        expect(P).toBe(pool.startsWith('grid:') ? 1 + Number(pool.slice(5)) ** 2 : 1);
        for (let l = 0; l < config.depth; l++) {
          const want = referencePool(config, reference[l]!, N, pool);
          expect(relError(layerOf(out, N, config.depth, P, config.width, l), want), `layer ${l + 1}`).toBeLessThan(TOLERANCE);
        }
      } finally {
        await bb.dispose();
      }
    });
  }
});

describe('tapped layers', () => {
  const config = smallConfig({ depth: 4 });
  it('taps only the chosen blocks, in block order, and stops after the last', async () => {
    const weights = makeTimmWeights(config, 3);
    const file = path.join(dir, 'w-depth4.safetensors');
    await writeTensors(file, weights);
    const frames = randomFrames(config, 2, 2);
    const reference = referenceForward(config, weights, frames, 2);
    for (const [spec, blocks] of [['3,1', [0, 2]], ['every:2', [1, 3]], ['2', [1]]] as const) {
      const bb = await loadBackbone({ config, weights: file, pool: 'grid:2', layers: spec, threads: 1 });
      try {
        expect(bb.layers).toEqual(blocks);
        const out = await bb.forward(frames, 2);
        blocks.forEach((b, l) => {
          const want = referencePool(config, reference[b]!, 2, 'grid:2');
          expect(relError(layerOf(out, 2, blocks.length, 5, config.width, l), want)).toBeLessThan(TOLERANCE);
        });
      } finally {
        await bb.dispose();
      }
    }
  });
});
