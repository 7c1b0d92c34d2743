// The training pipeline end to end on a tiny backbone and a tiny synthetic data set: the run
// directory, skipped videos, the feature cache, resume (at an epoch end and mid-epoch, with the
// same result as an uninterrupted run), NaN stops, eval and classify through the CLI.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { SafetensorsFile, readSafetensorsFloat32 } from '../src/safetensors.js';
import { TRAIN_DEFAULTS, train, type TrainOptions } from '../src/train/index.js';
import type { LosaEvent } from '../src/train/events.js';
import { synthDataset } from '../src/video/synth.js';

let dir: string;
let data: string;
let backbone: string;
let broken: string;

const losa = (...argv: string[]) => runCli(argv, dir);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-train-'));
  data = path.join(dir, 'data');
  await synthDataset(data, { classes: 2, trainPerClass: 4, valPerClass: 2, seconds: 1, width: 64, height: 48, fps: 10, seed: 3, concurrency: 2 });
  broken = path.join(data, 'train', 'moving-left', 'broken.mp4');
  await fs.writeFile(broken, 'this is not a video');
  backbone = path.join(dir, 'tiny.json');
  await fs.writeFile(backbone, JSON.stringify({
    name: 'tiny', imageSize: 32, patchSize: 8, width: 16, depth: 2, heads: 2, mlpDim: 32, classToken: true,
    layerNormEps: 1e-6, gelu: 'tanh', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25],
  }));
});

function options(out: string, over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...TRAIN_DEFAULTS, data, out, backbone, numFrames: 4, epochs: 2, batchSize: 2, cache: path.join(dir, 'cache'),
    cacheViews: 1, lr: 1e-2, ...over,
  };
}

const sideWeights = async (file: string): Promise<Map<string, Float32Array>> =>
  new Map([...(await readSafetensorsFloat32(file)).tensors].filter(([n]) => !n.startsWith('optimizer.')).map(([n, t]) => [n, t.data]));

describe('losa train', () => {
  it('writes the run directory, skips and names a broken video, and serves epoch 2 from the cache', async () => {
    const res = await losa('train', '--data', data, '--out', path.join(dir, 'run1'), '--backbone', backbone, '--num-frames', '4',
      '--epochs', '2', '--batch-size', '2', '--cache', path.join(dir, 'cache'), '--cache-views', '1', '--no-tui');
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    const run = path.join(dir, 'run1');
    for (const f of ['run.json', 'best.safetensors', 'last.safetensors', 'metrics.jsonl', 'curves.svg', 'train.log']) {
      await expect(fs.stat(path.join(run, f))).resolves.toBeTruthy();
    }
    expect(res.stdout).toContain('random weights'.toUpperCase().slice(0, 6)); // "RANDOM WEIGHTS" warning
    expect(res.stdout).toContain('broken.mp4');
    expect(res.stdout).toMatch(/decoder ffmpeg .+ \((env|system|bundled), \//); // which ffmpeg decodes, in the run header
    expect(await fs.readFile(path.join(run, 'train.log'), 'utf8')).toMatch(/skipped: .*broken\.mp4: /);
    const metrics = (await fs.readFile(path.join(run, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics.map((m) => `${m.epoch}/${m.split}`)).toEqual(['1/train', '1/val', '2/train', '2/val']);
    for (const m of metrics) {
      for (const k of ['loss', 'top1', 'top5']) expect(Number.isFinite(m[k])).toBe(true);
      expect(m.top1).toBeGreaterThanOrEqual(0);
      expect(m.top5).toBeGreaterThanOrEqual(m.top1);
    }
    expect(metrics[0].fromCache).toBe(false);
    expect(metrics[2].fromCache).toBe(true);
    const manifest = JSON.parse(await fs.readFile(path.join(run, 'run.json'), 'utf8'));
    expect(manifest.classes).toEqual(['moving-left', 'moving-right']);
    expect(manifest.progress).toMatchObject({ epoch: 2, finished: true });
    expect(manifest.backbone.digest).toMatch(/^[0-9a-f]{64}$/);
    // 7 readable training clips in batches of 2 → 4 steps per epoch.
    expect(manifest.progress.step).toBe(8);
    const last = await SafetensorsFile.open(path.join(run, 'last.safetensors'));
    expect(last.metadata).toMatchObject({ epoch: '2', step: '8', stepInEpoch: '0' });
    expect(last.names().some((n) => n.startsWith('optimizer.'))).toBe(true);
    await last.close();
    const best = await SafetensorsFile.open(path.join(run, 'best.safetensors'));
    expect(best.names().some((n) => n.startsWith('optimizer.'))).toBe(false);
    expect(best.names()).toContain('head.weight');
    await best.close();
  });

  it('refuses to overwrite a run without --resume, and resumes one with the same step count', async () => {
    const run = path.join(dir, 'run1');
    const again = await losa('train', '--data', data, '--out', run, '--backbone', backbone, '--num-frames', '4', '--no-tui');
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/^losa: error: .*run1: a run already exists here; pass --resume/);
    const resumed = await losa('train', '--data', data, '--out', run, '--backbone', backbone, '--num-frames', '4',
      '--epochs', '3', '--batch-size', '2', '--cache', path.join(dir, 'cache'), '--cache-views', '1', '--resume', '--no-tui');
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toContain('resumed after 8 steps, at the start of epoch 3');
    const manifest = JSON.parse(await fs.readFile(path.join(run, 'run.json'), 'utf8'));
    expect(manifest.progress).toMatchObject({ epoch: 3, step: 12, finished: true });
    const metrics = (await fs.readFile(path.join(run, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics.map((m) => m.epoch)).toEqual([1, 1, 2, 2, 3, 3]);
  });

  it('stopped mid-epoch and resumed, ends with the weights of an uninterrupted run', async () => {
    const events: LosaEvent[] = [];
    const whole = await train(options(path.join(dir, 'whole')), (e) => events.push(e));
    expect(whole.status).toBe('done');
    const controller = new AbortController();
    const stopped = await train(options(path.join(dir, 'split')), (e) => {
      if (e.type === 'step' && e.step === 3) controller.abort();
    }, controller.signal);
    expect(stopped.status).toBe('stopped');
    const ckpt = await SafetensorsFile.open(path.join(dir, 'split', 'last.safetensors'));
    expect(ckpt.metadata).toMatchObject({ epoch: '0', stepInEpoch: '3', step: '3' });
    await ckpt.close();
    const resumed = await train(options(path.join(dir, 'split'), { resume: true }), () => {});
    expect(resumed.status).toBe('done');
    const a = await sideWeights(path.join(dir, 'whole', 'last.safetensors'));
    const b = await sideWeights(path.join(dir, 'split', 'last.safetensors'));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, wa] of a) {
      const wb = b.get(name)!;
      const maxDiff = wa.reduce((m, v, i) => Math.max(m, Math.abs(v - wb[i]!)), 0);
      expect(maxDiff, name).toBeLessThan(1e-5);
    }
    // The step events of the uninterrupted run count every optimiser step once.
    expect(events.filter((e) => e.type === 'step').map((e) => (e as { step: number }).step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('leaves no TensorFlow.js tensors behind', async () => {
    const before = tf.memory().numTensors;
    await train(options(path.join(dir, 'leak'), { epochs: 1 }), () => {});
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stops on a non-finite loss with a clear error and keeps the last good checkpoint', async () => {
    const run = path.join(dir, 'nan');
    await train(options(run, { epochs: 1 }), () => {});
    const good = await fs.readFile(path.join(run, 'last.safetensors'));
    const err = await train(options(run, { epochs: 2, resume: true, lr: 1e38 }), () => {}).then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(/loss became (NaN|Infinity|-Infinity) at step \d+ \(epoch 2\); stopped, the last good checkpoint is kept in .*last\.safetensors/);
    expect(Buffer.compare(await fs.readFile(path.join(run, 'last.safetensors')), good)).toBe(0);
  });
});

describe('losa eval and classify', () => {
  it('eval --json reports top-1, top-5, per-class accuracy and a confusion matrix over the readable videos', async () => {
    const run = path.join(dir, 'run1');
    const res = await losa('eval', '--data', data, '--checkpoint', run, '--views', '2', '--crops', '3', '--json');
    expect(res.status).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report.viewsPerVideo).toBe(6);
    expect(report.top1).toBeGreaterThanOrEqual(0);
    expect(report.top1).toBeLessThanOrEqual(1);
    expect(report.top5).toBe(1); // two classes: the label is always in the top 5
    expect(Object.keys(report.perClass)).toEqual(['moving-left', 'moving-right']);
    const total = report.confusion.flat().reduce((a: number, b: number) => a + b, 0);
    expect(total).toBe(4);
    const diagonal = report.confusion[0][0] + report.confusion[1][1];
    expect(report.top1).toBeCloseTo(diagonal / 4, 12);
    await expect(fs.stat(path.join(run, 'confusion.svg'))).resolves.toBeTruthy();
  });

  it('classify --json prints one line per input, an error line for a bad one, and exits 1', async () => {
    const run = path.join(dir, 'run1');
    const clip = path.join(data, 'val', 'moving-right', (await fs.readdir(path.join(data, 'val', 'moving-right')))[0]!);
    const res = await losa('classify', clip, broken, clip, '--checkpoint', run, '--top', '2', '--json');
    expect(res.status).toBe(1);
    const lines = res.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.input)).toEqual([clip, broken, clip]);
    expect(lines[1].error).toContain('broken.mp4');
    for (const i of [0, 2]) {
      expect(lines[i].top).toHaveLength(2);
      const sum = lines[i].top.reduce((a: number, t: { probability: number }) => a + t.probability, 0);
      expect(sum).toBeCloseTo(1, 5);
      expect(lines[i].top[0].probability).toBeGreaterThanOrEqual(lines[i].top[1].probability);
    }
    expect(lines[0]).toEqual(lines[2]);
  });

  it('a missing run directory is a one-line error', async () => {
    const res = await losa('classify', broken, '--checkpoint', path.join(dir, 'nope'));
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/^losa: error: .*nope: not a losa run directory/);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  });
});
