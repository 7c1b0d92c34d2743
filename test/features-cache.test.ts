import { beforeAll, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FeatureCache } from '../src/features/cache.js';

let dir: string;
let video: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-cache-'));
  video = path.join(dir, 'clip.mp4');
  await fs.writeFile(video, Buffer.alloc(200_000, 7));
});

describe('feature cache', () => {
  const spec = { clip: { numFrames: 8, size: 224, mode: 'train' }, seed: '0/view/0/clip.mp4' };
  const entry = { shape: [1, 2, 3, 1, 4], data: Float32Array.from({ length: 24 }, (_, i) => i / 7) };

  it('returns what was stored, exactly, and counts hits and misses', async () => {
    const cache = new FeatureCache(path.join(dir, 'c1'), 'digest-a');
    const key = await cache.key(video, spec);
    expect(await cache.get(key)).toBeNull();
    await cache.put(key, entry);
    const hit = await cache.get(key);
    expect(hit?.shape).toEqual(entry.shape);
    expect(Array.from(hit!.data)).toEqual(Array.from(entry.data));
    expect(cache.stats).toMatchObject({ hits: 1, misses: 1, writes: 1 });
  });

  it('misses after a change of backbone, sampling setting, view or video file', async () => {
    const cache = new FeatureCache(path.join(dir, 'c2'), 'digest-a');
    const key = await cache.key(video, spec);
    await cache.put(key, entry);
    const otherBackbone = await new FeatureCache(path.join(dir, 'c2'), 'digest-b').key(video, spec);
    const otherSampling = await cache.key(video, { ...spec, clip: { ...spec.clip, numFrames: 16 } });
    const otherView = await cache.key(video, { ...spec, seed: '0/view/1/clip.mp4' });
    const keys = new Set([key, otherBackbone, otherSampling, otherView]);
    expect(keys.size).toBe(4);
    // Same size, new content and a new modification time.
    const fresh = new FeatureCache(path.join(dir, 'c2'), 'digest-a');
    await fs.writeFile(video, Buffer.alloc(200_000, 9));
    await fs.utimes(video, new Date(), new Date(Date.now() + 5000));
    const changed = await fresh.key(video, spec);
    expect(changed).not.toBe(key);
    expect(await fresh.get(changed)).toBeNull();
  });

  it('treats a damaged entry as a miss', async () => {
    const cache = new FeatureCache(path.join(dir, 'c3'), 'digest-a');
    const key = await cache.key(video, spec);
    await cache.put(key, entry);
    const file = path.join(dir, 'c3', key.slice(0, 2), `${key}.safetensors`);
    await fs.writeFile(file, 'garbage');
    expect(await cache.get(key)).toBeNull();
    expect(cache.stats.damaged).toBe(1);
  });

  it('stores half precision when asked, within fp16 rounding', async () => {
    const cache = new FeatureCache(path.join(dir, 'c4'), 'digest-a', 'F16');
    const key = await cache.key(video, spec);
    await cache.put(key, entry);
    const hit = await cache.get(key);
    hit!.data.forEach((v, i) => expect(Math.abs(v - entry.data[i]!)).toBeLessThan(2e-3));
  });
});
