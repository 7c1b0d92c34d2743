// `losa extract` and the feature cache's room, without Redis (the job function is the one the
// workers run): an extraction larger than the folder's cap is refused before it starts (its own
// entries would be evicted before training reads them), a --cache-max given is recorded in the
// folder for every worker, and a full disk fails the jobs instead of completing them empty.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCacheSettings } from '../src/features/cache-folder.js';
import { findNamespace, inNamespace, losaLine } from './tmpfs-helpers.js';
import { requireBuild, spawnLosa, tinySetup } from './train-helpers.js';

let dir: string;
let mnt: string;
let namespace: string[] | null;
let RUN: string[];

beforeAll(async () => {
  requireBuild();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-extract-room-'));
  mnt = path.join(dir, 'mnt');
  await fs.mkdir(mnt);
  namespace = findNamespace(mnt);
  // Absolute paths: the full-disk run starts in another folder.
  RUN = ['extract', '--data', path.join(dir, 'data'), '--backbone', path.join(dir, 'tiny.json'), '--num-frames', '4', '--no-tui'];
  if (!namespace) process.stderr.write('\n*** losa: the full-disk extraction test cannot run here (no mount namespace): SKIPPED, not passed. ***\n\n');
  await tinySetup(dir, 5);
}, 60_000);
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const entries = async (cache: string): Promise<string[]> =>
  (await fs.readdir(cache, { recursive: true }).catch(() => [] as string[])).filter((n) => n.endsWith('.safetensors'));

describe('losa extract and the cache folder', () => {
  it('refuses an extraction larger than the cap, in one line, before writing anything', async () => {
    const cache = path.join(dir, 'small');
    const r = await spawnLosa([...RUN, '--cache', cache, '--cache-max', '4KiB'], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^losa: error: .*small: the extraction writes about .* with a cap of 4\.00 KiB; pass --cache-max SIZE \(at least .*\) so that no entry is evicted/);
    expect(await entries(cache)).toEqual([]);
  });

  it('records a --cache-max given, so workers keep it, and writes every entry', async () => {
    const cache = path.join(dir, 'roomy');
    const r = await spawnLosa([...RUN, '--cache', cache, '--cache-max', '64MiB'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect((await readCacheSettings(cache)).maxBytes).toBe(64 * 2 ** 20);
    expect(await entries(cache)).toHaveLength(6 * 2 + 2); // 6 training videos × 2 cached views + 2 validation videos
  });

  it('fails the jobs whose entries cannot be written (a full disk), instead of completing them empty', async (ctx) => {
    if (!namespace) ctx.skip('no mount namespace can be made here (see stderr)');
    // A tmpfs of two pages: the settings file fits, the entries do not all fit.
    inNamespace(namespace!, mnt, '8k', [losaLine(dir, [...RUN, '--cache', path.join(mnt, 'cache'), '--cache-max', '64MiB'], 'full')]);
    const status = Number(await fs.readFile(path.join(dir, 'full.status'), 'utf8'));
    const out = await fs.readFile(path.join(dir, 'full.out'), 'utf8');
    const err = await fs.readFile(path.join(dir, 'full.err'), 'utf8');
    expect(status, out + err).toBe(1);
    expect(out + err).toMatch(/cannot write \(no space left on device, ENOSPC\)/);
  });
});
