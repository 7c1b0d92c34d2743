// `losa cache list` and `losa cache clear`: what the folder holds against its cap, and making
// room, least recently used first, touching nothing but cache entries.
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { FeatureCache } from '../src/features/cache.js';
import { formatBytes } from '../src/fsutil.js';

let dir: string;
let cacheDir: string;
const keyOf = (i: number): string => createHash('sha256').update(`cli entry ${i}`).digest('hex');
const fileOf = (key: string): string => path.join(cacheDir, key.slice(0, 2), `${key}.safetensors`);
const entry = { shape: [1, 2, 2, 1, 8], data: new Float32Array(32).fill(1) };

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-cli-cache-'));
  cacheDir = path.join(dir, 'cache');
  const cache = new FeatureCache(cacheDir, 'digest', 'F32', { maxBytes: 1 << 20 });
  for (const i of [1, 2, 3]) await cache.put(keyOf(i), entry);
  // Used three, two and one hours before a fixed time: entry 1 is the least recently used.
  const base = Date.UTC(2026, 0, 1, 12);
  for (const i of [1, 2, 3]) await fs.utimes(fileOf(keyOf(i)), new Date(base - (4 - i) * 3_600_000), new Date(base - (4 - i) * 3_600_000));
  await fs.writeFile(path.join(cacheDir, 'README'), 'a file of the user');
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('losa cache', () => {
  it('list: entries, bytes, the cap the folder recorded, last use', async () => {
    const r = await runCli(['cache', 'list', '--cache', 'cache', '--json'], dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    const size = (await fs.stat(fileOf(keyOf(1)))).size;
    expect(report).toMatchObject({ dir: cacheDir, entries: 3, bytes: 3 * size, maxBytes: 1 << 20, capFrom: 'folder', unfinished: 0 });
    expect(report.lastUse - report.firstUse).toBe(2 * 3_600_000);
    const text = await runCli(['cache', 'list', '--cache', 'cache'], dir);
    expect(text.stdout).toContain(`3 entries, ${formatBytes(3 * size)}; cap 1.00 MiB (the folder's)`);
    expect(text.stdout).toContain('last used from 2026-01-01 09:00 to 2026-01-01 11:00 (UTC)');
  });

  it('clear --keep: the least recently used go first; clear: all entries, and nothing else', async () => {
    const size = (await fs.stat(fileOf(keyOf(1)))).size;
    const keep = await runCli(['cache', 'clear', '--cache', 'cache', '--keep', String(2 * size), '--json'], dir);
    expect(keep.status).toBe(0);
    expect(JSON.parse(keep.stdout)).toMatchObject({ removed: 1, remaining: 2, remainingBytes: 2 * size });
    expect([1, 2, 3].map((i) => existsSync(fileOf(keyOf(i))))).toEqual([false, true, true]);
    const all = await runCli(['cache', 'clear', '--cache', 'cache'], dir);
    expect(all.stdout).toBe(`removed 2 entries (${formatBytes(2 * size)}) from ${cacheDir}; 0 entries (0 B) remain\n`);
    expect(existsSync(path.join(cacheDir, 'README'))).toBe(true);
    expect(existsSync(path.join(cacheDir, 'cache.json'))).toBe(true);
  });

  it('without a subcommand is a usage error naming them', async () => {
    const r = await runCli(['cache'], dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('losa: error: `losa cache` takes a subcommand: list, clear (see `losa --help`)\n');
  });
});
