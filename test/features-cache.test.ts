// The feature cache: exact round trips, keys that change with everything the features depend on
// (and only with that: not with where the video lies), failures that are misses and never end a
// run, and a size cap that evicts the least recently used entries, safely beside other processes.
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FeatureCache } from '../src/features/cache.js';
import { evictCacheFolder } from '../src/features/cache-folder.js';
import { SafetensorsFile } from '../src/safetensors.js';

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

describe('feature cache: content identity', () => {
  const spec = { clip: { numFrames: 8, size: 224, mode: 'test' }, seed: '0/val' };

  it('keys a copy of the video anywhere (another path, inode and time) as the original', async () => {
    const original = path.join(dir, 'content-a.mp4');
    await fs.writeFile(original, Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251)));
    const elsewhere = path.join(dir, 'mounted', 'elsewhere', 'renamed.mp4');
    await fs.mkdir(path.dirname(elsewhere), { recursive: true });
    await fs.copyFile(original, elsewhere);
    await fs.utimes(elsewhere, new Date(2001, 0, 1), new Date(2001, 0, 1));
    const [a, b] = await Promise.all([original, elsewhere].map(async (f) => ({ stat: await fs.stat(f), key: await new FeatureCache(dir, 'd').key(f, spec) })));
    expect(b!.stat.ino).not.toBe(a!.stat.ino);
    expect(b!.key).toBe(a!.key);
  });

  it('tells apart two videos of one size that differ only in the middle', async () => {
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 13) % 241));
    const a = path.join(dir, 'middle-a.mp4');
    const b = path.join(dir, 'middle-b.mp4');
    await fs.writeFile(a, bytes);
    bytes[150_000] ^= 0xff;
    await fs.writeFile(b, bytes);
    const cache = new FeatureCache(dir, 'd');
    expect(await cache.key(a, spec)).not.toBe(await cache.key(b, spec));
  });
});

describe('feature cache: failures are misses, and never end a run', () => {
  const spec = { clip: { numFrames: 8, size: 224, mode: 'train' }, seed: '0/view/0/x/clip.mp4' };
  const entry = { shape: [1, 2, 3, 1, 4], data: Float32Array.from({ length: 24 }, (_, i) => i) };
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('counts a read that fails for another reason than ENOENT (EMFILE) as an error, not as damage', async () => {
    const cache = new FeatureCache(path.join(dir, 'f1'), 'digest-a');
    const key = await cache.key(video, spec);
    await cache.put(key, entry);
    const open = fs.open.bind(fs);
    vi.spyOn(fs, 'open').mockImplementation(async (file, flags, mode) => {
      if (String(file).endsWith(`${key}.safetensors`)) throw Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE' });
      return open(file, flags, mode);
    });
    expect(await cache.get(key)).toBeNull();
    expect(cache.stats).toMatchObject({ errors: 1, damaged: 0, misses: 0 });
    vi.restoreAllMocks();
    expect(await cache.get(key)).not.toBeNull();
    expect(await cache.get('0'.repeat(64))).toBeNull();
    expect(cache.stats).toMatchObject({ errors: 1, damaged: 0, misses: 1, hits: 1 });
  });

  it('turns writing off after a failed write, with one warning; the entries there are still read', async () => {
    const warnings: string[] = [];
    const cache = new FeatureCache(path.join(dir, 'f2'), 'digest-a', 'F32', { warn: (m) => warnings.push(m) });
    const first = await cache.key(video, spec);
    expect(await cache.put(first, entry)).toBe(true);
    const open = fs.open.bind(fs);
    let writes = 0;
    vi.spyOn(fs, 'open').mockImplementation(async (file, flags, mode) => {
      if (flags === 'w') {
        writes++;
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return open(file, flags, mode);
    });
    const keys = await Promise.all([1, 2, 3].map((v) => cache.key(video, { ...spec, seed: `0/view/${v}/x/clip.mp4` })));
    for (const key of keys) expect(await cache.put(key, entry)).toBe(false);
    expect(writes).toBe(1); // the later puts do not even try
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^feature cache .*f2: cannot write \(no space left on device, ENOSPC\); new features are not cached/);
    expect(cache.writable).toBe(false);
    expect((await cache.get(first))?.data).toEqual(entry.data);
    expect(await fs.readdir(path.join(dir, 'f2', first.slice(0, 2)))).toEqual([`${first}.safetensors`]); // no temporary file left
  });
});

describe('feature cache: a size cap, least recently used entries first, safe for several processes', () => {
  const entry = { shape: [1, 4, 2, 5, 16], data: new Float32Array(640).fill(0.5) };
  const keyOf = (i: number): string => createHash('sha256').update(`entry ${i}`).digest('hex');
  const fileOf = (root: string, key: string): string => path.join(root, key.slice(0, 2), `${key}.safetensors`);
  const past = (minutes: number): Date => new Date(Date.now() - minutes * 60_000);

  async function entrySize(): Promise<number> {
    const probe = path.join(dir, 'size-probe');
    await new FeatureCache(probe, 'digest-a').put(keyOf(0), entry);
    return (await fs.stat(fileOf(probe, keyOf(0)))).size;
  }

  it('evicts the least recently used entry when a write passes the cap; a hit counts as a use', async () => {
    const size = await entrySize();
    const root = path.join(dir, 'lru');
    const cache = new FeatureCache(root, 'digest-a', 'F32', { maxBytes: Math.floor(3.5 * size) });
    for (const i of [1, 2, 3]) expect(await cache.put(keyOf(i), entry)).toBe(true);
    // Written in the past, oldest first; then entry 1 is read, so entry 2 is the least recently used.
    for (const i of [1, 2, 3]) await fs.utimes(fileOf(root, keyOf(i)), past(60 - i), past(60 - i));
    expect(await cache.get(keyOf(1))).not.toBeNull();
    expect(await cache.put(keyOf(4), entry)).toBe(true);
    const present = [1, 2, 3, 4].filter((i) => existsSync(fileOf(root, keyOf(i))));
    expect(present).toEqual([1, 3, 4]);
    expect(cache.stats.evicted).toBe(1);
    // The cap is the folder's from now on: another user of it (eval, a worker) keeps it.
    expect(JSON.parse(await fs.readFile(path.join(root, 'cache.json'), 'utf8'))).toEqual({ maxBytes: Math.floor(3.5 * size) });
    expect(await new FeatureCache(root, 'digest-b').maxBytes()).toBe(Math.floor(3.5 * size));
  });

  it('leaves writes in progress, readers holding an entry and foreign files alone; two evictions at once agree', async () => {
    const root = path.join(dir, 'shared');
    const cache = new FeatureCache(root, 'digest-a');
    for (const i of [1, 2, 3, 4]) await cache.put(keyOf(i), entry);
    const shard = path.join(root, keyOf(5).slice(0, 2));
    await fs.mkdir(shard, { recursive: true });
    const writing = path.join(shard, `.${keyOf(5)}.safetensors.tmp-999999-00aa11`);
    const killed = path.join(shard, `.${keyOf(6)}.safetensors.tmp-999998-00bb22`);
    await fs.writeFile(writing, 'half an entry');
    await fs.writeFile(killed, 'what a killed writer left');
    await fs.utimes(killed, past(120), past(120));
    await fs.writeFile(path.join(root, 'notes.txt'), 'not an entry');
    await fs.writeFile(path.join(shard, 'other.bin'), 'not an entry either');
    // A reader that opened entry 1 before the eviction reads it whole after it.
    const reader = await SafetensorsFile.open(fileOf(root, keyOf(1)));
    const [a, b] = await Promise.all([evictCacheFolder(root, 0, Date.now()), evictCacheFolder(root, 0, Date.now())]);
    expect(Array.from(await reader.readFloat32('features'))).toEqual(Array.from(entry.data));
    await reader.close();
    expect(a.removed + b.removed).toBe(4);
    expect(a.remaining).toBe(0);
    expect(b.remaining).toBe(0);
    expect(existsSync(writing)).toBe(true);
    expect(existsSync(killed)).toBe(false);
    expect(existsSync(path.join(root, 'notes.txt'))).toBe(true);
    expect(existsSync(path.join(shard, 'other.bin'))).toBe(true);
    // Losing an entry to another process is a miss.
    expect(await cache.get(keyOf(2))).toBeNull();
    expect(cache.stats).toMatchObject({ misses: 1, damaged: 0, errors: 0 });
  });
});
