// Position-embedding interpolation: the separable resampler against direct 2-D sums written here
// (PyTorch's bicubic, and its antialiased bicubic), values worked out by hand and values PyTorch
// computed, and checkpoints for another grid run end to end (timm names: antialiased, as timm's
// resample_abs_pos_embed; Hugging Face names: plain bicubic, as interpolate_pos_encoding).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitPositionEmbedding, loadBackbone, resizeBicubic } from '../src/backbone/index.js';
import { createRng } from '../src/random.js';
import { layerOf, makeTimmWeights, randomFrames, referenceForward, relError, smallConfig, toHfNames, writeTensors } from './backbone-helpers.js';

/** Keys' cubic kernel with a = -0.75, evaluated at distance s. */
function keys(s: number): number {
  const a = -0.75, x = Math.abs(s);
  if (x <= 1) return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1;
  if (x < 2) return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a;
  return 0;
}

/** Direct 2-D bicubic: every output sums its 4×4 neighbourhood (edges repeated), no separation. */
function directBicubic(src: Float32Array, inH: number, inW: number, dim: number, outH: number, outW: number): Float64Array {
  const out = new Float64Array(outH * outW * dim);
  const clamp = (v: number, hi: number) => Math.min(hi - 1, Math.max(0, v));
  for (let oy = 0; oy < outH; oy++) for (let ox = 0; ox < outW; ox++) {
    const sy = ((oy + 0.5) * inH) / outH - 0.5;
    const sx = ((ox + 0.5) * inW) / outW - 0.5;
    for (let j = Math.floor(sy) - 1; j <= Math.floor(sy) + 2; j++) {
      for (let i = Math.floor(sx) - 1; i <= Math.floor(sx) + 2; i++) {
        const w = keys(sy - j) * keys(sx - i);
        for (let c = 0; c < dim; c++) out[(oy * outW + ox) * dim + c] += w * src[(clamp(j, inH) * inW + clamp(i, inW)) * dim + c]!;
      }
    }
  }
  return out;
}

/**
 * PyTorch's antialiased bicubic (F.interpolate(antialias=True)) as a direct 2-D sum, from its
 * definition: for output o, centre c = (o + 0.5)·s with s = in/out; inputs j with
 * trunc(c - support + 0.5) ≤ j < trunc(c + support + 0.5), support = 2·max(s, 1), weighted by
 * Keys' kernel with a = -0.5 at (j - c + 0.5)/max(s, 1), then normalised to sum to one.
 */
function directAntialiased(src: Float32Array, inH: number, inW: number, dim: number, outH: number, outW: number): Float64Array {
  const taps = (inSize: number, o: number, outSize: number): [number, number][] => {
    const s = inSize / outSize;
    const stretch = Math.max(s, 1);
    const c = s * (o + 0.5);
    const list: [number, number][] = [];
    for (let j = Math.max(0, Math.trunc(c - 2 * stretch + 0.5)); j < Math.min(inSize, Math.trunc(c + 2 * stretch + 0.5)); j++) {
      const x = Math.abs((j - c + 0.5) / stretch);
      const a = -0.5;
      list.push([j, x < 1 ? (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1 : x < 2 ? a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a : 0]);
    }
    const total = list.reduce((t, [, w]) => t + w, 0);
    return list.map(([j, w]) => [j, w / total]);
  };
  const out = new Float64Array(outH * outW * dim);
  for (let oy = 0; oy < outH; oy++) for (let ox = 0; ox < outW; ox++) {
    for (const [j, wy] of taps(inH, oy, outH)) for (const [i, wx] of taps(inW, ox, outW)) {
      for (let c = 0; c < dim; c++) out[(oy * outW + ox) * dim + c] += wy * wx * src[(j * inW + i) * dim + c]!;
    }
  }
  return out;
}

describe('resizeBicubic', () => {
  const rng = createRng('pos');
  it.each([[3, 4], [14, 16], [16, 14], [7, 7], [2, 9], [5, 3]])('%i → %i matches a direct 2-D bicubic', (from, to) => {
    const dim = 3;
    const src = Float32Array.from({ length: from * from * dim }, () => rng.normal());
    const got = resizeBicubic(src, from, from, dim, to, to);
    expect(relError(got, directBicubic(src, from, from, dim, to, to))).toBeLessThan(1e-6);
  });

  it('is the identity at the same size, and matches values worked out by hand', () => {
    const src = Float32Array.from({ length: 4 * 4 * 2 }, (_, i) => Math.sin(i));
    expect(relError(resizeBicubic(src, 4, 4, 2, 4, 4), src)).toBeLessThan(1e-7);
    // A 1×2 row [0, 1] to 1×4: sources at -0.25, 0.25, 0.75, 1.25; the first is
    // k(1.25)·1 = 0.140625·a = -0.10546875, the second k(0.75) + k(1.75) = 0.2265625.
    const row = resizeBicubic(Float32Array.from([0, 1]), 1, 2, 1, 1, 4);
    expect([...row].map((v) => Number(v.toFixed(7)))).toEqual([-0.1054688, 0.2265625, 0.7734375, 1.1054688]);
  });
});

describe('resizeBicubic, antialiased (timm, open_clip, DINOv2 with registers)', () => {
  const rng = createRng('pos-aa');
  it.each([[37, 16], [7, 4], [3, 5], [16, 37], [5, 3], [4, 4]])('%i → %i matches a direct 2-D antialiased bicubic', (from, to) => {
    const dim = 2;
    const src = Float32Array.from({ length: from * from * dim }, () => rng.normal());
    expect(relError(resizeBicubic(src, from, from, dim, to, to, 'bicubic-aa'), directAntialiased(src, from, from, dim, to, to))).toBeLessThan(1e-6);
  });

  it('matches values PyTorch 1.13 computed (F.interpolate, mode bicubic, antialias True and False)', () => {
    const squares = Float32Array.from({ length: 9 }, (_, i) => (i + 1) ** 2); // [[1, 4, 9], [16, 25, 36], [49, 64, 81]]
    const round = (a: Float32Array) => [...a].map((v) => Number(v.toFixed(4)));
    expect(round(resizeBicubic(squares, 3, 3, 1, 2, 2, 'bicubic-aa'))).toEqual([6.3495, 14.437, 42.0454, 61.5662]);
    expect(round(resizeBicubic(squares, 3, 3, 1, 4, 4, 'bicubic-aa')).slice(0, 6)).toEqual([0.0761, 1.5714, 4.8407, 7.8344, 7.7549, 11.4743]);
    expect(round(resizeBicubic(squares, 3, 3, 1, 2, 2, 'bicubic'))).toEqual([3.962, 12.288, 44.6317, 68.6495]);
  });
});

describe('fitPositionEmbedding', () => {
  it('keeps the class token, resamples the patches, and gives a class token without one zeros', () => {
    const dim = 2;
    const pos = Float32Array.from({ length: (1 + 9) * dim }, (_, i) => i + 1);
    const fitted = fitPositionEmbedding(pos, 1, 3, 1, 4, dim);
    expect(fitted.length).toBe((1 + 16) * dim);
    expect([...fitted.subarray(0, dim)]).toEqual([1, 2]);
    expect(relError(fitted.subarray(dim), directBicubic(pos.subarray(dim), 3, 3, dim, 4, 4))).toBeLessThan(1e-6);
    const noCls = fitPositionEmbedding(pos.subarray(dim), 0, 3, 1, 3, dim);
    expect([...noCls.subarray(0, dim)]).toEqual([0, 0]);
    expect([...noCls.subarray(dim)]).toEqual([...pos.subarray(dim)]);
    expect(fitPositionEmbedding(pos, 1, 3, 1, 3, dim)).toBe(pos);
  });
});

describe('a checkpoint trained on another grid', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bb-pos-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const cases = [
    { label: 'timm names: antialiased, as timm resamples', hf: false, expected: directAntialiased },
    { label: 'Hugging Face names: plain bicubic, as interpolate_pos_encoding', hf: true, expected: directBicubic },
  ];
  it.each(cases)('runs at the config\'s grid with the embedding resampled at load time ($label)', async ({ hf, expected: resample }) => {
    const config = smallConfig({ depth: 2 }); // 32 / 8: a 4×4 grid
    const weights = makeTimmWeights(config, 5, 3); // trained on a 3×3 grid (24 px)
    const file = path.join(dir, `grid3-${hf}.safetensors`);
    await writeTensors(file, hf ? toHfNames(weights, config) : weights);
    const d = config.width;
    const pos = weights.get('pos_embed')!.data;
    const expected = new Float64Array(17 * d);
    expected.set(pos.subarray(0, d));
    expected.set(resample(pos.subarray(d), 3, 3, d, 4, 4), d);
    const frames = randomFrames(config, 2, 4);
    const reference = referenceForward(config, weights, frames, 2, expected);
    const bb = await loadBackbone({ config, weights: file, pool: 'none', threads: 1 });
    try {
      const out = await bb.forward(frames, 2);
      for (let l = 0; l < 2; l++) expect(relError(layerOf(out, 2, 2, 17, d, l), reference[l]!)).toBeLessThan(2e-5);
    } finally {
      await bb.dispose();
    }
  });
});
