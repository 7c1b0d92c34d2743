// kill -9 of `losa train` (the built command, in a process of its own) at exact points: in the
// middle of a training step, in the middle of validation, in the middle of writing the
// checkpoint; and once at whatever moment a signal from outside lands. Each time, `--resume`
// ends with the weights of a run that was never interrupted, metrics.jsonl holds each epoch
// exactly once, no temporary file is left, and the backbone's process did not outlive its
// parent. The exact points are failpoints (src/failpoint.ts): LOSA_FAILPOINT makes the process
// send itself SIGKILL there. A stop asked for with Ctrl-C exits with status 130.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allExit, maxWeightDiff, metricsEpochs, requireBuild, sideWeights, spawnLosa, tinySetup, type Spawned } from './train-helpers.js';

let dir: string;
let args: (out: string) => string[];
let reference: { last: Map<string, Float32Array>; best: Map<string, Float32Array> };
const EPOCHS = ['1/train', '1/val', '2/train', '2/val', '3/train', '3/val'];

beforeAll(async () => {
  requireBuild();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-faults-'));
  const { data, backbone } = await tinySetup(dir, 11, 2);
  // 6 training videos in batches of 2: 3 steps an epoch; 4 validation videos; a cache per run
  // (its features are exact, so a run reading them trains as one computing them), so that each
  // run computes epoch 1's features and its backbone process is running when it is killed.
  args = (out) => ['train', '--data', data, '--out', out, '--backbone', backbone, '--num-frames', '4', '--epochs', '3',
    '--batch-size', '2', '--cache', path.join(dir, `cache-${out}`), '--cache-views', '1', '--json'];
  const whole = await spawnLosa(args('whole'), { cwd: dir });
  expect(whole.stderr).toBe('');
  expect(whole.status).toBe(0);
  reference = { last: await sideWeights(path.join(dir, 'whole', 'last.safetensors')), best: await sideWeights(path.join(dir, 'whole', 'best.safetensors')) };
}, 120_000);
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Resumes `out` and checks it ends as the uninterrupted run did. */
async function resumeAndCompare(out: string, killed: Spawned): Promise<void> {
  expect(killed.signal, killed.stderr).toBe('SIGKILL');
  expect(killed.backbonePids.length).toBeGreaterThan(0);
  // The backbone's process exits when its parent dies (its IPC channel closes).
  expect(await allExit(killed.backbonePids)).toBe(true);
  const resumed = await spawnLosa([...args(out), '--resume'], { cwd: dir });
  expect(resumed.stderr).toBe('');
  expect(resumed.status).toBe(0);
  expect(maxWeightDiff(await sideWeights(path.join(dir, out, 'last.safetensors')), reference.last)).toBeLessThan(1e-6);
  expect(maxWeightDiff(await sideWeights(path.join(dir, out, 'best.safetensors')), reference.best)).toBeLessThan(1e-6);
  expect(await metricsEpochs(path.join(dir, out))).toEqual(EPOCHS);
  expect((await fs.readdir(path.join(dir, out))).filter((f) => f.includes('.tmp-'))).toEqual([]);
}

describe('kill -9 of a training process, then --resume', () => {
  it('in the middle of a step (epoch 2: a gradient computed, its update not applied)', async () => {
    const killed = await spawnLosa(args('mid-step'), { cwd: dir, env: { LOSA_FAILPOINT: 'train-step@5' } });
    expect(await metricsEpochs(path.join(dir, 'mid-step'))).toEqual(['1/train', '1/val']);
    await resumeAndCompare('mid-step', killed);
  });

  it('in the middle of validation (epoch 2, after its first video)', async () => {
    const killed = await spawnLosa(args('mid-val'), { cwd: dir, env: { LOSA_FAILPOINT: 'validate@5' } });
    expect(killed.stdout).toContain('"type":"validate","epoch":2,"done":1');
    expect(await metricsEpochs(path.join(dir, 'mid-val'))).toEqual(['1/train', '1/val']);
    await resumeAndCompare('mid-val', killed);
  });

  it('in the middle of writing the checkpoint (epoch 2: the temporary file written, not renamed)', async () => {
    const killed = await spawnLosa(args('mid-write'), { cwd: dir, env: { LOSA_FAILPOINT: 'write:last.safetensors@2' } });
    const files = await fs.readdir(path.join(dir, 'mid-write'));
    expect(files.filter((f) => f.startsWith('.last.safetensors.tmp-'))).toHaveLength(1);
    const kept = await fs.readFile(path.join(dir, 'mid-write', 'last.safetensors'));
    expect(kept.length).toBeGreaterThan(0);
    // The epoch's metrics went out before its checkpoint: resume drops them and redoes the epoch.
    expect(await metricsEpochs(path.join(dir, 'mid-write'))).toEqual(['1/train', '1/val', '2/train', '2/val']);
    await resumeAndCompare('mid-write', killed);
  });

  it('at whatever moment a SIGKILL from outside lands (after the fourth step event)', async () => {
    let steps = 0;
    const killed = await spawnLosa(args('outside'), {
      cwd: dir,
      onLine: (line, pid) => {
        if (line.includes('"type":"step"') && ++steps === 4) process.kill(pid, 'SIGKILL');
      },
    });
    await resumeAndCompare('outside', killed);
  });
});

describe('a stop asked for with Ctrl-C', () => {
  it('writes a checkpoint, exits with status 130, and resumes to the same weights', async () => {
    let asked = false;
    const stopped = await spawnLosa(args('sigint'), {
      cwd: dir,
      onLine: (line, pid) => {
        if (!asked && line.includes('"type":"step"')) {
          asked = true;
          process.kill(pid, 'SIGINT');
        }
      },
    });
    expect(stopped.stderr).toBe('');
    expect(stopped.status).toBe(130);
    const end = JSON.parse(stopped.stdout.trim().split('\n').at(-1)!);
    expect(end).toMatchObject({ type: 'end', status: 'stopped' });
    expect(await allExit(stopped.backbonePids)).toBe(true);
    const resumed = await spawnLosa([...args('sigint'), '--resume'], { cwd: dir });
    expect(resumed.status).toBe(0);
    expect(maxWeightDiff(await sideWeights(path.join(dir, 'sigint', 'last.safetensors')), reference.last)).toBeLessThan(1e-6);
    expect(await metricsEpochs(path.join(dir, 'sigint'))).toEqual(EPOCHS);
  });
});
