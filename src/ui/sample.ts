// A made-up but realistic event sequence of a short training run: for previews of the
// dashboard and for the tests of every renderer (which must all draw the same story).
import type { LosaEvent, RunInfo } from '../train/events.js';

export interface SampleRunOptions {
  epochs?: number;
  stepsPerEpoch?: number;
  randomWeights?: boolean;
  resumedFrom?: { epoch: number; stepInEpoch: number; step: number };
}

export function sampleRunInfo(options: SampleRunOptions = {}): RunInfo {
  return {
    command: 'train',
    backbone: { name: 'ViT-Ti/16', params: 5_524_416, randomWeights: options.randomWeights ?? true, device: 'cpu', chunk: 16 },
    side: { kind: 'losa', params: 123_456, tfBackend: 'wasm' },
    data: { root: 'video/demo', classes: ['left', 'right', 'up', 'down'], trainClips: 96, valClips: 32, missing: 0, validation: true },
    epochs: options.epochs ?? 2,
    stepsPerEpoch: options.stepsPerEpoch ?? 12,
    batchSize: 8,
    numFrames: 8,
    outDir: 'models/demo',
    decoder: 'ffmpeg 5.1.9 (system, /usr/bin/ffmpeg)',
    ...(options.resumedFrom ? { resumedFrom: options.resumedFrom } : {}),
  };
}

/** The steps of one epoch (1-based `stepInEpoch`, global `step` counted from the run's start). */
export function sampleSteps(epoch: number, steps: number, epochs: number, from = 1, to = steps): LosaEvent[] {
  const out: LosaEvent[] = [];
  for (let i = from; i <= to; i++) {
    const step = (epoch - 1) * steps + i;
    out.push({
      type: 'step',
      epoch,
      step,
      totalSteps: steps * epochs,
      stepInEpoch: i,
      stepsInEpoch: steps,
      loss: 1.4 / (1 + 0.1 * step),
      accuracy: Math.min(1, 0.25 + 0.03 * step),
      lr: 1e-3,
      clipsPerSecond: 40,
      fromCache: epoch > 1,
      time: { decodeMs: 12, backboneMs: 8.5, sideMs: 3.25 },
      memory: { rssBytes: 512 * 1024 * 1024, tensors: 321 },
    });
  }
  return out;
}

/** A whole run: start, epochs with steps, a skipped file, validation, checkpoints, end. */
export function sampleRunEvents(options: SampleRunOptions = {}): LosaEvent[] {
  const run = sampleRunInfo(options);
  const epochs = run.epochs!;
  const steps = run.stepsPerEpoch!;
  const events: LosaEvent[] = [{ type: 'start', run }];
  for (let e = 1; e <= epochs; e++) {
    events.push({ type: 'epoch-start', epoch: e, epochs, steps, fromCache: e > 1 });
    events.push(...sampleSteps(e, steps, epochs, 1, Math.floor(steps / 2)));
    if (e === 1) events.push({ type: 'skip', path: 'video/demo/train/up/bad.mp4', reason: 'no video stream', skipped: 1 });
    events.push(...sampleSteps(e, steps, epochs, Math.floor(steps / 2) + 1, steps));
    events.push({ type: 'validate', epoch: e, done: 32, total: 32 });
    const top1 = 0.5 + 0.2 * e;
    events.push({
      type: 'epoch-end',
      summary: {
        epoch: e,
        trainLoss: 1.2 / e,
        trainTop1: 0.4 + 0.2 * e,
        val: { loss: 1.1 / e, top1, top5: 1 },
        seconds: e === 1 ? 30 : 3,
        fromCache: e > 1,
        lr: 1e-3 / e,
        best: true,
      },
    });
    events.push({ type: 'checkpoint', path: 'models/demo/best.safetensors', kind: 'best' });
    events.push({ type: 'checkpoint', path: 'models/demo/last.safetensors', kind: 'last' });
  }
  events.push({
    type: 'end',
    status: 'done',
    seconds: 33,
    bestTop1: 0.5 + 0.2 * epochs,
    files: ['models/demo', 'models/demo/best.safetensors', 'models/demo/curves.svg'],
  });
  return events;
}
