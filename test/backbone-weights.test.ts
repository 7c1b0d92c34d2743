// Loading weights: Hugging Face and timm names give the same features; F16/BF16 load; a file
// for another config is refused in one line that lists what differs; random weights are seeded;
// chunking changes nothing; the digest tells weights, pooling and layers apart.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectNaming, loadBackbone, loadWeightsFile, randomWeights } from '../src/backbone/index.js';
import { f16ToF32, f32ToBf16, f32ToF16, writeSafetensors } from '../src/safetensors.js';
import { makeTimmWeights, randomFrames, smallConfig, toHfNames, writeTensors, type Tensors } from './backbone-helpers.js';

let dir: string;
const config = smallConfig();
let timm: Tensors;
let timmFile: string;
const frames = randomFrames(config, 5, 3);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bb-w-'));
  timm = makeTimmWeights(config, 11);
  timmFile = path.join(dir, 'timm.safetensors');
  await writeTensors(timmFile, timm);
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function features(file: string | undefined, extra: Record<string, unknown> = {}): Promise<{ out: Float32Array; digest: string }> {
  const bb = await loadBackbone({ config, weights: file, threads: 1, ...extra });
  try {
    return { out: await bb.forward(frames, 5), digest: bb.digest };
  } finally {
    await bb.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function mapTensors(t: Tensors, f: (x: number) => number): Tensors {
  return new Map([...t].map(([k, v]) => [k, { shape: v.shape, data: v.data.map(f) }]));
}

describe('tensor names', () => {
  it('detects timm and Hugging Face names, with or without the vit. prefix', () => {
    expect(detectNaming(timm.keys())).toEqual({ kind: 'timm', prefix: '' });
    expect(detectNaming(toHfNames(timm, config).keys())).toEqual({ kind: 'hf-vit', prefix: '' });
    expect(detectNaming(toHfNames(timm, config, 'vit.').keys())).toEqual({ kind: 'hf-vit', prefix: 'vit.' });
    expect(detectNaming(['foo.weight'])).toBeUndefined();
  });

  it('gives the same features for the same weights under HF and timm names', async () => {
    const hfFile = path.join(dir, 'hf.safetensors');
    const vitFile = path.join(dir, 'hf-vit.safetensors');
    await writeTensors(hfFile, toHfNames(timm, config));
    await writeTensors(vitFile, toHfNames(timm, config, 'vit.'));
    const a = await features(timmFile);
    const b = await features(hfFile);
    const c = await features(vitFile);
    expect(maxAbsDiff(a.out, b.out)).toBeLessThan(1e-6);
    expect(maxAbsDiff(a.out, c.out)).toBeLessThan(1e-6);
    // The digest is of the bytes as read, which are the same numbers in another order and name.
    expect(a.digest).not.toBe(b.digest);
  });
});

describe('dtypes', () => {
  for (const [dtype, round] of [
    ['F16', (x: number) => f16ToF32(f32ToF16(x))],
    ['BF16', (x: number) => new Float32Array(new Uint32Array([f32ToBf16(x) << 16]).buffer)[0]!],
  ] as const) {
    it(`loads ${dtype} weights as the float32 values they hold`, async () => {
      const halfFile = path.join(dir, `w-${dtype}.safetensors`);
      const roundedFile = path.join(dir, `w-${dtype}-as-f32.safetensors`);
      await writeTensors(halfFile, timm, dtype);
      await writeTensors(roundedFile, mapTensors(timm, round));
      const half = await features(halfFile);
      const rounded = await features(roundedFile);
      expect(maxAbsDiff(half.out, rounded.out)).toBe(0);
      // And they are close to, but not the same as, the float32 weights' features.
      const full = await features(timmFile);
      const diff = maxAbsDiff(half.out, full.out);
      expect(diff).toBeGreaterThan(0);
      expect(diff).toBeLessThan(dtype === 'F16' ? 0.05 : 0.5);
    });
  }
});

describe('mismatched files', () => {
  const sink = async () => undefined;
  const load = (file: string, cfg = config) => loadWeightsFile(file, cfg, cfg.depth, sink);

  it('names the missing blocks and the depth when the file is shallower', async () => {
    const file = path.join(dir, 'deep.safetensors');
    await writeTensors(file, makeTimmWeights(smallConfig({ depth: 2 }), 1));
    const err = await load(file).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg).toContain(file);
    expect(msg).toContain('the file has 2 blocks, the config 3');
    expect(msg).toContain('missing 12: blocks.2.norm1.weight');
  });

  it('lists unexpected tensors of extra blocks', async () => {
    const file = path.join(dir, 'extra.safetensors');
    await writeTensors(file, makeTimmWeights(smallConfig({ depth: 4 }), 1));
    await expect(load(file)).rejects.toThrow(/unexpected 12: blocks\.3\.norm1\.weight/);
  });

  it('names the tensor whose shape differs', async () => {
    const file = path.join(dir, 'wide.safetensors');
    await writeTensors(file, makeTimmWeights(smallConfig({ width: 48, heads: 2 }), 1));
    await expect(load(file)).rejects.toThrow(/shape: patch_embed\.proj\.weight is \[48, 3, 8, 8\], expected \[32, 3, 8, 8\]/);
  });

  it('refuses a file with no ViT names, and integer tensors', async () => {
    const file = path.join(dir, 'other.safetensors');
    await writeSafetensors(file, [{ name: 'conv1.weight', shape: [2], data: new Float32Array(2) }]);
    await expect(load(file)).rejects.toThrow(/not a ViT weights file: found none of the known tensor names: timm \(patch_embed\.proj\.weight\), .* \(first names: conv1\.weight\)/);
    const ints = new Map(timm);
    const intFile = path.join(dir, 'int.safetensors');
    await writeSafetensors(intFile, [...ints].map(([name, t]) =>
      name === 'cls_token' ? { name, shape: t.shape, data: new Int32Array(t.data.length) } : { name, shape: t.shape, data: t.data }));
    await expect(load(intFile)).rejects.toThrow(/dtype \(want F32, F16 or BF16\): cls_token is I32/);
  });

  it('reports a missing file in one line', async () => {
    await expect(features(path.join(dir, 'nope.safetensors'))).rejects.toThrow(/nope\.safetensors: no such file/);
  });
});

describe('random weights', () => {
  it('are seeded, trunc-normal with std 0.02, and say so', async () => {
    const seen: Record<string, Float32Array> = {};
    await randomWeights(config, 1, 5, async (spec, data) => { seen[spec.name] = data; });
    const w = seen['block0.fc1.weight']!;
    const mean = w.reduce((a, v) => a + v, 0) / w.length;
    const std = Math.sqrt(w.reduce((a, v) => a + (v - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std).toBeGreaterThan(0.016);
    expect(std).toBeLessThan(0.02);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(0.04);
    expect([...seen['block0.fc1.bias']!].every((v) => v === 0)).toBe(true);
    expect([...seen['block0.ln1.weight']!].every((v) => v === 1)).toBe(true);

    const a = await features(undefined, { seed: 5 });
    const b = await features(undefined, { seed: 5 });
    const c = await features(undefined, { seed: 6 });
    expect(maxAbsDiff(a.out, b.out)).toBe(0);
    expect(a.digest).toBe(b.digest);
    expect(maxAbsDiff(a.out, c.out)).toBeGreaterThan(0);
    expect(a.digest).not.toBe(c.digest);
    const bb = await loadBackbone({ config, threads: 1 });
    expect(bb.randomWeights).toBe(true);
    await bb.dispose();
  });
});

describe('chunks and digests', () => {
  it('gives the same output whatever the chunk', async () => {
    const whole = await features(timmFile, { chunk: 5 });
    for (const chunk of [1, 2, 3]) {
      const parts = await features(timmFile, { chunk });
      expect(maxAbsDiff(parts.out, whole.out), `chunk ${chunk}`).toBeLessThan(1e-6);
      expect(parts.digest).toBe(whole.digest);
    }
  });

  it('gives the same output with weights left in the mapped file (no prepacking)', async () => {
    const packed = await features(timmFile, { prepack: true });
    const mapped = await features(timmFile, { prepack: false });
    expect(maxAbsDiff(packed.out, mapped.out)).toBeLessThan(1e-6);
    expect(mapped.digest).toBe(packed.digest);
  });

  it('changes the digest with pooling, layers and weights, not with the device settings', async () => {
    const base = await features(timmFile);
    expect(base.digest).toMatch(/^[0-9a-f]{64}$/);
    expect((await features(timmFile, { pool: 'cls' })).digest).not.toBe(base.digest);
    expect((await features(timmFile, { layers: '1,2' })).digest).not.toBe(base.digest);
    expect((await features(timmFile, { chunk: 2, threads: 2 })).digest).toBe(base.digest);
    const other = path.join(dir, 'other-weights.safetensors');
    await writeTensors(other, mapTensors(timm, (x) => x * 1.01));
    expect((await features(other)).digest).not.toBe(base.digest);
  });

  it('runs concurrent forward calls one at a time, in order, with correct results', async () => {
    const bb = await loadBackbone({ config, weights: timmFile, threads: 1, chunk: 2 });
    try {
      const one = frames.subarray(0, 3 * 32 * 32 * 2);
      const [x, y] = await Promise.all([bb.forward(frames, 5), bb.forward(one, 2)]);
      expect(maxAbsDiff(y, x.subarray(0, y.length))).toBeLessThan(1e-6);
      await expect(bb.forward(frames, 4)).rejects.toThrow(/forward\(\) got 15360 values for 4 frames/);
    } finally {
      await bb.dispose();
    }
  });
});
