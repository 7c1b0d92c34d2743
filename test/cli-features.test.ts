// `losa features`: a video, an image and a broken file through a small backbone with a weights
// file; the features file's tensor, metadata and values; one file per input in a folder.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { loadBackbone } from '../src/backbone/index.js';
import { createRng } from '../src/random.js';
import { readSafetensorsFloat32 } from '../src/safetensors.js';
import { loadClips, writeVideo } from '../src/video/index.js';
import { normalizeFrames } from '../src/backbone/preprocess.js';
import { makeTimmWeights, smallConfig, writeTensors } from './backbone-helpers.js';

let dir: string;
const config = smallConfig({ name: undefined, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });

const run = (argv: string[]) => runCli(argv, dir);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-cli-features-'));
  const { name: _n, ...file } = config;
  await fs.writeFile(path.join(dir, 'tiny.json'), JSON.stringify(file));
  await writeTensors(path.join(dir, 'tiny.safetensors'), makeTimmWeights(config, 2));
  const W = 48, H = 40;
  const frames = Array.from({ length: 12 }, (_, t) => {
    const f = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      f[i] = (x * 5 + t * 20) % 256; f[i + 1] = (y * 6) % 256; f[i + 2] = ((x + y) * 3 + t * 9) % 256;
    }
    return f;
  });
  await writeVideo(path.join(dir, 'clip.mp4'), frames, { width: W, height: H, fps: 12 });
  const pixels = Buffer.alloc(50 * 36 * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7) % 256;
  await sharp(pixels, { raw: { width: 50, height: 36, channels: 3 } }).png().toFile(path.join(dir, 'still.png'));
  await fs.writeFile(path.join(dir, 'broken.mp4'), 'not a video');
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('losa features', () => {
  it('writes [T, L, P, D] features with metadata, equal to the backbone run directly', async () => {
    const r = await run(['features', 'clip.mp4', '--backbone', 'tiny.json', '--weights', 'tiny.safetensors', '--num-frames', '4', '--out', 'clip.safetensors', '--chunk', '3']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/backbone tiny .*weights .*tiny\.safetensors.*chunk 3, pool grid:2 \(P=5\), layers all \(L=3\)/);
    expect(r.stdout).not.toContain('random weights');
    const { tensors, metadata } = await readSafetensorsFloat32(path.join(dir, 'clip.safetensors'));
    const f = tensors.get('features')!;
    expect(f.shape).toEqual([4, 3, 5, 32]);
    expect(metadata.backbone).toBe('tiny');
    expect(metadata.pool).toBe('grid:2');
    expect(metadata.layers).toBe('all');
    expect(JSON.parse(metadata.indices!)).toHaveLength(4);
    expect(metadata.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(metadata.random_weights).toBe('false');

    const { clips } = await loadClips(path.join(dir, 'clip.mp4'), { numFrames: 4, size: 32, mode: 'test' }, createRng(0));
    const bb = await loadBackbone({ config: { ...config, name: 'tiny' }, weights: path.join(dir, 'tiny.safetensors'), threads: 1 });
    try {
      const direct = await bb.forward(normalizeFrames(clips[0]!.frames, 4, 32, config.mean, config.std), 4);
      let diff = 0;
      for (let i = 0; i < direct.length; i++) diff = Math.max(diff, Math.abs(direct[i]! - f.data[i]!));
      expect(diff).toBeLessThan(1e-5);
      expect(bb.digest).toBe(metadata.digest);
    } finally {
      await bb.dispose();
    }
  });

  it('writes one file per input into a folder, goes on past a failing input, and exits 1', async () => {
    const r = await run(['features', 'clip.mp4', 'still.png', 'broken.mp4', 'missing.mp4', '--backbone', 'tiny.json', '--out', 'feats', '--pool', 'cls', '--layers', '2,3']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('random weights');
    const errors = r.stderr.trim().split('\n');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^losa: error: .*broken\.mp4: /);
    expect(errors[1]).toMatch(/^losa: error: .*missing\.mp4: no such file/);
    expect(r.stdout).toContain('2 of 4 inputs written, 2 failed');
    expect((await fs.readdir(path.join(dir, 'feats'))).sort()).toEqual(['clip.safetensors', 'still.safetensors']);
    const video = await readSafetensorsFloat32(path.join(dir, 'feats', 'clip.safetensors'));
    expect(video.tensors.get('features')!.shape).toEqual([8, 2, 1, 32]);
    const image = await readSafetensorsFloat32(path.join(dir, 'feats', 'still.safetensors'));
    expect(image.tensors.get('features')!.shape).toEqual([1, 2, 1, 32]);
    expect(image.metadata.image).toBe('true');
    expect(image.metadata.weights).toBe('random:0');
  });

  it('repeats an image T times when --num-frames is given', async () => {
    const r = await run(['features', 'still.png', '--backbone', 'tiny.json', '--num-frames', '3', '--out', 'still3.safetensors', '--pool', 'mean']);
    expect(r.status).toBe(0);
    const { tensors } = await readSafetensorsFloat32(path.join(dir, 'still3.safetensors'));
    const f = tensors.get('features')!;
    expect(f.shape).toEqual([3, 3, 1, 32]);
    const per = 3 * 32;
    expect([...f.data.subarray(per, 2 * per)]).toEqual([...f.data.subarray(0, per)]);
  });

  it('refuses bad arguments with status 2 and a one-line message', async () => {
    expect((await run(['features', '--backbone', 'tiny.json', '--out', 'x.safetensors'])).status).toBe(2);
    expect((await run(['features', 'clip.mp4', '--out', 'x.safetensors'])).stderr).toContain('Expected `--backbone` to be given');
    const pool = await run(['features', 'clip.mp4', '--backbone', 'tiny.json', '--out', 'x.safetensors', '--pool', 'max']);
    expect(pool.status).toBe(2);
    expect(pool.stderr).toContain('Expected `--pool` to be one of');
    const device = await run(['features', 'clip.mp4', '--backbone', 'tiny.json', '--out', 'x.safetensors', '--device', 'tpu']);
    expect(device.status).toBe(2);
  });

  it('says in one line when the CUDA provider cannot start', async () => {
    const r = await run(['features', 'clip.mp4', '--backbone', 'tiny.json', '--out', 'x.safetensors', '--device', 'cuda']);
    if (r.status === 0) return; // a machine with the CUDA provider installed
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^losa: error: --device cuda: onnxruntime(-node)?'s CUDA provider/);
  });
});
