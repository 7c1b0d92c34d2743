// A full disk under the run directory and under the feature cache, made real: a small tmpfs
// mounted in a mount namespace of the test's own (`unshare --user --map-root-user --mount`, or
// `unshare --mount` as root), with the built `losa` running inside it.
// - Run directory: one epoch, then the tmpfs is shrunk to what it holds (plus a page), and the
//   resumed run trains epoch 2 and cannot write its checkpoint. It says so in one line, keeps
//   its last checkpoint, and once the tmpfs is grown again, --resume finishes with the weights
//   of the same run on a roomy disk.
// - Cache: a tmpfs of five pages fills up during epoch 1; one warning line, the run goes on and
//   ends with the weights of a run whose cache had room.
// Where no namespace can be made (no user namespaces, not root), the tests are skipped and say
// so on stderr: they never pass without having run.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../src/safetensors.js';
import { findNamespace, inNamespace as runInNamespace, losaLine as runLine, quote } from './tmpfs-helpers.js';
import { maxWeightDiff, metricsEpochs, requireBuild, sideWeights, spawnLosa, tinySetup } from './train-helpers.js';

let dir: string;
let mnt: string;
let common: string[];
let namespace: string[] | null = null;

const losaLine = (args: string[], name: string): string => runLine(dir, args, name);
const inNamespace = (size: string, lines: string[]): void => runInNamespace(namespace!, mnt, size, lines);

const result = async (name: string): Promise<{ status: number; stdout: string; stderr: string }> => ({
  status: Number(await fs.readFile(path.join(dir, `${name}.status`), 'utf8')),
  stdout: await fs.readFile(path.join(dir, `${name}.out`), 'utf8'),
  stderr: await fs.readFile(path.join(dir, `${name}.err`), 'utf8'),
});

beforeAll(async () => {
  requireBuild();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-disk-full-'));
  mnt = path.join(dir, 'mnt');
  await fs.mkdir(mnt);
  namespace = findNamespace(mnt);
  if (!namespace) {
    process.stderr.write('\n*** losa: the full-disk tests cannot run here: neither `unshare --user --map-root-user --mount` nor (as root) `unshare --mount` works. They are SKIPPED, not passed. ***\n\n');
    return;
  }
  const { data, backbone } = await tinySetup(dir, 21, 1);
  common = ['train', '--data', data, '--backbone', backbone, '--num-frames', '4', '--batch-size', '2', '--cache-views', '1', '--no-tui'];
}, 120_000);
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('a full disk', () => {
  it('under the run directory: one line, the last checkpoint kept, and --resume once there is room', async (ctx) => {
    if (!namespace) ctx.skip('no mount namespace can be made here (see stderr)');
    const cache = ['--cache', path.join(dir, 'cache-a')];
    // The same sequence on a roomy disk: one epoch, then resumed to two.
    const reference = path.join(dir, 'reference-a');
    expect((await spawnLosa([...common, ...cache, '--out', reference, '--epochs', '1'], { cwd: dir })).status).toBe(0);
    expect((await spawnLosa([...common, ...cache, '--out', reference, '--epochs', '2', '--resume'], { cwd: dir })).status).toBe(0);

    const run = path.join(mnt, 'run');
    inNamespace('4m', [
      losaLine([...common, ...cache, '--out', run, '--epochs', '1'], 'first'),
      // Shrink the tmpfs to what the run holds after its first epoch, plus one page.
      `used=$(df -B4096 --output=used ${quote(mnt)} | tail -n 1 | tr -d ' ')`,
      `mount -o remount,size=$(( (used + 1) * 4096 )) ${quote(mnt)} || exit 91`,
      losaLine([...common, ...cache, '--out', run, '--epochs', '2', '--resume'], 'full'),
      `cp -a ${quote(run)} ${quote(path.join(dir, 'as-left'))}`,
      `mount -o remount,size=4m ${quote(mnt)} || exit 92`,
      losaLine([...common, ...cache, '--out', run, '--epochs', '2', '--resume'], 'room'),
      `cp -a ${quote(run)} ${quote(path.join(dir, 'final'))}`,
    ]);
    expect((await result('first')).status).toBe(0);

    const full = await result('full');
    expect(full.status).toBe(1);
    expect(full.stderr).toMatch(new RegExp(
      `^losa: error: ${run}/(best|last)\\.safetensors: cannot write \\(no space left on device, ENOSPC\\); ` +
      `the run stopped; its last checkpoint ${run}/last\\.safetensors is kept: make room, then continue with --resume\\n$`,
    ));
    expect(full.stdout).not.toContain('ENOSPC'); // said once, on stderr
    const leftDir = path.join(dir, 'as-left');
    expect((await fs.readdir(leftDir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const last = await SafetensorsFile.open(path.join(leftDir, 'last.safetensors'));
    expect(last.metadata).toMatchObject({ format: 'losa-checkpoint', epoch: '1', stepInEpoch: '0', step: '3' });
    await last.close();

    const room = await result('room');
    expect(room.stderr).toBe('');
    expect(room.status).toBe(0);
    const final = path.join(dir, 'final');
    expect(await metricsEpochs(final)).toEqual(['1/train', '1/val', '2/train', '2/val']);
    expect(maxWeightDiff(await sideWeights(path.join(final, 'last.safetensors')), await sideWeights(path.join(reference, 'last.safetensors')))).toBeLessThan(1e-6);
  });

  it('under the feature cache: one warning line, and the run goes on to the same weights', async (ctx) => {
    if (!namespace) ctx.skip('no mount namespace can be made here (see stderr)');
    const reference = path.join(dir, 'reference-b');
    expect((await spawnLosa([...common, '--cache', path.join(dir, 'cache-b'), '--out', reference, '--epochs', '2'], { cwd: dir })).status).toBe(0);
    // Eight entries of one page each (6 training + 2 validation videos); room for five.
    inNamespace('20k', [losaLine([...common, '--cache', path.join(mnt, 'cache'), '--out', path.join(dir, 'cached-run'), '--epochs', '2'], 'cache')]);
    const r = await result('cache');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const warnings = r.stdout.split('\n').filter((l) => l.includes('feature cache'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning: feature cache .*\/mnt\/cache: cannot write \(no space left on device, ENOSPC\); new features are not cached/);
    const run = path.join(dir, 'cached-run');
    expect(await metricsEpochs(run)).toEqual(['1/train', '1/val', '2/train', '2/val']);
    expect(maxWeightDiff(await sideWeights(path.join(run, 'last.safetensors')), await sideWeights(path.join(reference, 'last.safetensors')))).toBeLessThan(1e-6);
  });
});
