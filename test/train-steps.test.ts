// The named steps of training, each called alone (prepare the run, one epoch, validate, save),
// and `losa frames --mode train` against what training really fed the backbone: the features
// it cached for a clip are the backbone's features of the PNGs frames writes for that clip.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { loadBackbone, resolveBackboneConfig } from '../src/backbone/index.js';
import { SafetensorsFile } from '../src/safetensors.js';
import { TRAIN_DEFAULTS, prepareRun, saveEpoch, sideClipsPerCall, train, trainEpoch, validate, type TrainOptions } from '../src/train/index.js';
import { getSideWeights } from '../src/side/index.js';
import type { LosaEvent } from '../src/train/events.js';
import { synthDataset } from '../src/video/synth.js';

let dir: string;
let data: string;
let backbone: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-steps-'));
  data = path.join(dir, 'data');
  await synthDataset(data, { classes: 2, trainPerClass: 3, valPerClass: 1, seconds: 1, width: 64, height: 48, fps: 10, seed: 9, concurrency: 2 });
  backbone = path.join(dir, 'tiny.json');
  await fs.writeFile(backbone, JSON.stringify({
    name: 'tiny', imageSize: 32, patchSize: 8, width: 16, depth: 2, heads: 2, mlpDim: 32, classToken: true,
    layerNormEps: 1e-6, gelu: 'tanh', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25],
  }));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const options = (out: string, over: Partial<TrainOptions> = {}): TrainOptions => ({
  ...TRAIN_DEFAULTS, data, out: path.join(dir, out), backbone, numFrames: 4, epochs: 2, batchSize: 2, lr: 1e-2,
  cache: path.join(dir, 'cache'), ...over,
});

describe('the steps of a training run, one at a time', () => {
  it('prepare, one epoch, validate, save', async () => {
    const events: LosaEvent[] = [];
    const run = await prepareRun(options('steps'), (e) => events.push(e));
    try {
      expect(run.stepsPerEpoch).toBe(3); // 6 clips in batches of 2
      expect(run.start).toMatchObject({ epoch: 0, step: 0 });
      const trained = await trainEpoch(run, 0, new AbortController().signal);
      expect(trained).toMatchObject({ stopped: false, stepInEpoch: 3, position: 6 });
      expect(trained.record).toMatchObject({ epoch: 1, split: 'train', step: 3, fromCache: false });
      expect(events.filter((e) => e.type === 'step').map((e) => (e as { step: number }).step)).toEqual([1, 2, 3]);
      expect(events.find((e) => e.type === 'epoch-start')).toMatchObject({ fromCache: false });

      const checked = await validate(run, 0, new AbortController().signal);
      expect(checked.stopped).toBe(false);
      const val = checked.stopped ? undefined : checked.val;
      expect(val!.top5).toBe(1); // two classes
      expect(Number.isFinite(val!.loss)).toBe(true);
      expect(events.filter((e) => e.type === 'validate').at(-1)).toMatchObject({ done: 2, total: 2 });

      const summary = await saveEpoch(run, 0, trained, val);
      expect(summary).toMatchObject({ epoch: 1, best: true, val });
      const last = await SafetensorsFile.open(path.join(run.runDir, 'last.safetensors'));
      expect(last.metadata).toMatchObject({ epoch: '1', step: '3', stepInEpoch: '0' });
      await last.close();
      const metrics = (await fs.readFile(path.join(run.runDir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
      expect(metrics.map((m) => m.split)).toEqual(['train', 'val']);

      // The optimiser's state exists after the first update; from then on an epoch keeps no tensor.
      const tensors = tf.memory().numTensors;
      const second = await trainEpoch(run, 1, new AbortController().signal);
      await validate(run, 1, new AbortController().signal);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(second).toMatchObject({ stepInEpoch: 3, record: { epoch: 2, step: 6 } });
    } finally {
      await run.dispose();
    }
  });

  it('a stop request ends the epoch after the update in progress, at its exact position', async () => {
    const controller = new AbortController();
    const run = await prepareRun(options('stop', { cache: undefined }), (e) => {
      if (e.type === 'step' && e.step === 2) controller.abort();
    });
    try {
      const trained = await trainEpoch(run, 0, controller.signal);
      expect(trained).toMatchObject({ stopped: true, stepInEpoch: 2, position: 4 });
      expect(trained.record).toBeUndefined();
      expect(run.step).toBe(2);
    } finally {
      await run.dispose();
    }
  });

  it('the second pass over a cached view says so: at epoch start and in every step', async () => {
    const events: LosaEvent[] = [];
    await train(options('cached', { cacheViews: 1, cache: path.join(dir, 'cache-1') }), (e) => events.push(e));
    const starts = events.filter((e) => e.type === 'epoch-start');
    expect(starts.map((e) => (e as { fromCache: boolean }).fromCache)).toEqual([false, true]);
    const steps = events.filter((e) => e.type === 'step') as Extract<LosaEvent, { type: 'step' }>[];
    expect(steps.map((s) => `${s.epoch}:${s.fromCache}`)).toEqual(['1:false', '1:false', '1:false', '2:true', '2:true', '2:true']);
  });
});

describe('a batch taken in side-network calls as its clips arrive', () => {
  it('gives the update of the whole batch at once, with --accumulate and a partial last step', async () => {
    const steps: Record<number, { loss: number; accuracy: number }[]> = {};
    const weights: Record<number, Map<string, Float32Array>> = {};
    for (const sideBatch of [1, 2]) {
      steps[sideBatch] = [];
      // 6 clips, batches of 2, an update every 2 batches: steps of 4 and 2 clips.
      const run = await prepareRun(options(`calls-${sideBatch}`, { sideBatch, accumulate: 2 }), (e) => {
        if (e.type === 'step') steps[sideBatch]!.push({ loss: e.loss, accuracy: e.accuracy });
      });
      try {
        expect(run.sideClips).toBe(sideBatch);
        expect(await trainEpoch(run, 0, new AbortController().signal)).toMatchObject({ stopped: false, stepInEpoch: 2, position: 6 });
        weights[sideBatch] = new Map(getSideWeights(run.net).map((w) => [w.name, w.data]));
      } finally {
        await run.dispose();
      }
    }
    expect(steps[1]!.map((s) => s.accuracy)).toEqual(steps[2]!.map((s) => s.accuracy));
    steps[1]!.forEach((s, i) => expect(s.loss).toBeCloseTo(steps[2]![i]!.loss, 5));
    for (const [name, w] of weights[2]!) {
      const other = weights[1]!.get(name)!;
      let diff = 0;
      for (let i = 0; i < w.length; i++) diff = Math.max(diff, Math.abs(w[i]! - other[i]!));
      expect(diff, name).toBeLessThan(1e-6); // summation order only (AdamW hides a gradient's scale)
    }
  });

  it.each([
    [8, 3, 2], [8, 5, 4], [8, 8, 8], [8, 20, 8], [6, 4, 3], [7, 3, 1], [1, 4, 1],
  ])('batch %i, --side-batch %i: calls of %i clips (a divisor of the batch)', (batchSize, sideBatch, expected) => {
    const shape = { numFrames: 8, numLayers: 12, tokens: 5, width: 384 };
    expect(sideClipsPerCall(shape, batchSize, sideBatch)).toBe(expected);
  });
});

describe('losa frames --mode train', () => {
  it("writes the frames whose features training cached: the same sampling, crop and seed", async () => {
    const cache = path.join(dir, 'cache-frames');
    await train(options('for-frames', { epochs: 1, cacheViews: 1, cache, seed: 7 }), () => {});
    const clip = path.join(data, 'train', 'moving-right', 'moving-right-0001.mp4');
    // The cache entry training wrote for this clip (entries name their video in the metadata).
    let cached: Float32Array | undefined;
    for (const sub of await fs.readdir(cache)) {
      for (const name of await fs.readdir(path.join(cache, sub))) {
        const st = await SafetensorsFile.open(path.join(cache, sub, name));
        if (st.metadata.path === clip && st.info('features').shape[1] === 4) cached = await st.readFloat32('features');
        await st.close();
      }
    }
    expect(cached).toBeDefined();

    const out = path.join(dir, 'frames-out');
    const r = await runCli(['frames', clip, '--out', out, '--mode', 'train', '--seed', '7', '--view', '0', '--num-frames', '4', '--image-size', '32', '--json'], dir);
    expect(r.status).toBe(0);
    const files = (JSON.parse(r.stdout) as { views: { files: string[] }[] }).views[0]!.files;
    const frames = new Uint8Array(4 * 32 * 32 * 3); // [T, S, S, 3]
    for (const [t, file] of files.entries()) {
      const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([32, 32, 3]);
      frames.set(data, t * 32 * 32 * 3);
    }
    const bb = await loadBackbone({ config: await resolveBackboneConfig(backbone), threads: 1 });
    try {
      const features = await bb.forward(frames, 4);
      expect(features.length).toBe(cached!.length);
      let diff = 0;
      for (let i = 0; i < features.length; i++) diff = Math.max(diff, Math.abs(features[i]! - cached![i]!));
      expect(diff).toBeLessThan(1e-5);
    } finally {
      await bb.dispose();
    }
  });
});
