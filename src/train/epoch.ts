// Step 2 of a training run: one epoch. The training videos in this epoch's shuffled order
// (from the resume point), through the feature pipeline; an AdamW update every batch of
// --batch-size clips (every --accumulate batches), a step event after each update. A batch is
// not gathered first: its clips go through the side network in calls of `run.sideClips` as the
// pipeline delivers them, their gradients summed until the batch is complete, so only a call's
// features are held, not a batch's (for ViT-B/16, 1.4 MiB a clip; a batch of 8 would be 11 MiB,
// and the next one arrives while it trains). A stop request ends the epoch after the update in
// progress; the caller then saves a checkpoint.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DatasetItem } from '../data/index.js';
import { LosaError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { featureBatches, isSkipped, type FeatureBatch } from '../features/index.js';
import { RUN_FILES } from '../model/run.js';
import { createRng } from '../random.js';
import { GradientAccumulator, learningRateAt } from '../side/index.js';
import { accumulateGradients, applyAccumulated } from './gradients.js';
import type { TrainingRun } from './prepare.js';
import type { MetricsRecord } from './rundir.js';
import { trainingPlan, trainingView } from './views.js';

/** A training video with its place in the epoch's shuffled order. */
export type EpochItem = DatasetItem & { position: number };

export interface EpochResult {
  /** True when a stop request ended the epoch early. */
  stopped: boolean;
  /** Optimiser steps of this epoch done, and the videos of its order they consumed. */
  stepInEpoch: number;
  position: number;
  /** The epoch's training metrics (loss, top-1, top-5 over its clips); absent when stopped. */
  record?: MetricsRecord;
  /** performance.now() at the epoch's start. */
  startedAt: number;
}

/** The epoch's videos from `from` on, in its shuffled order, less those already skipped. */
export function epochItems(run: TrainingRun, epoch: number, from: number): EpochItem[] {
  const items = run.trainSet.items;
  const order = createRng(`${run.opts.seed}/shuffle/${epoch}`).shuffle(items.map((_, i) => i));
  return order.slice(from).map((i, k) => ({ ...items[i]!, position: from + k })).filter((it) => !run.skipped.has(it.path));
}

/** Running sums of an epoch, for its metrics record and the step events. */
class EpochTally {
  lossSum = 0;
  correct = 0;
  correctTop5 = 0;
  seen = 0;
  time = { decodeMs: 0, backboneMs: 0, sideMs: 0 };
  /** Whether every clip since the last step event came from the feature cache. */
  cachedSinceStep = true;

  constructor(readonly startedAt: number) {}

  add(batch: FeatureBatch<EpochItem>, loss: number, correct: number, correctTop5: number, sideMs: number): void {
    const b = batch.items.length;
    this.lossSum += loss * b;
    this.correct += correct;
    this.correctTop5 += correctTop5;
    this.seen += b;
    this.time.decodeMs += batch.decodeMs;
    this.time.backboneMs += batch.backboneMs;
    this.time.sideMs += sideMs;
    this.cachedSinceStep &&= batch.cached === b;
  }

  perClip(): { decodeMs: number; backboneMs: number; sideMs: number } {
    const n = Math.max(this.seen, 1);
    return { decodeMs: this.time.decodeMs / n, backboneMs: this.time.backboneMs / n, sideMs: this.time.sideMs / n };
  }
}

export async function trainEpoch(run: TrainingRun, epoch: number, signal: AbortSignal): Promise<EpochResult> {
  const { opts, cache } = run;
  const resumed = epoch === run.start.epoch ? run.start : { stepInEpoch: 0, position: 0 };
  const tally = new EpochTally(performance.now());
  const cacheBefore = cache ? { hits: cache.stats.hits, misses: cache.stats.misses + cache.stats.damaged } : undefined;
  const view = trainingView(epoch, cache ? opts.cacheViews : undefined);
  run.emit({
    type: 'epoch-start', epoch: epoch + 1, epochs: opts.epochs, steps: run.stepsPerEpoch,
    // The epoch's view was computed by an earlier epoch (of this run or of the one it resumes).
    fromCache: cache !== undefined && epoch >= opts.cacheViews,
  });
  if (epoch === run.start.epoch && run.start.trained) {
    // A stop during this epoch's validation: its training was done and recorded in the checkpoint.
    const record = run.start.trained;
    return { stopped: false, stepInEpoch: resumed.stepInEpoch, position: resumed.position, record, startedAt: tally.startedAt - (record.seconds ?? 0) * 1000 };
  }
  const progress: StepProgress = { stepInEpoch: resumed.stepInEpoch, position: resumed.position, clips: 0, lossSum: 0, correct: 0 };
  const accumulator = new GradientAccumulator();
  try {
    const calls = featureBatches(epochItems(run, epoch, resumed.position), {
      backbone: run.backbone, batchSize: run.sideClips, concurrency: opts.workers, cache, signal,
      plan: (item) => trainingPlan({ ...run.manifest.sampling, seed: opts.seed }, item.path, view),
    });
    const clipsPerStep = opts.batchSize * opts.accumulate;
    let last: EpochItem | undefined;
    for await (const call of calls) {
      if (isSkipped(call)) {
        run.skip(call.skipped, call.reason);
        continue;
      }
      trainCall(run, epoch, call, accumulator, progress, tally);
      last = call.items.at(-1)!;
      if (progress.clips === clipsPerStep) {
        applyStep(run, epoch, accumulator, progress, tally, last);
        if (signal.aborted) break;
      }
    }
    if (signal.aborted) return { stopped: true, stepInEpoch: progress.stepInEpoch, position: progress.position, startedAt: tally.startedAt };
    // The epoch's last, partial batch (or accumulation) still counts as a step.
    if (progress.clips > 0) applyStep(run, epoch, accumulator, progress, tally, last!);
  } finally {
    accumulator.dispose();
  }
  if (tally.seen === 0) throw new LosaError(`${opts.data}: every training video was skipped (${run.skipped.size}); see ${path.join(run.runDir, RUN_FILES.log)}`);
  const fromCache = cacheBefore !== undefined && cache!.stats.misses + cache!.stats.damaged === cacheBefore.misses && cache!.stats.hits > cacheBefore.hits;
  const record: MetricsRecord = {
    epoch: epoch + 1, split: 'train', loss: tally.lossSum / tally.seen, top1: tally.correct / tally.seen, top5: tally.correctTop5 / tally.seen,
    step: run.step, lr: learningRateAt(Math.max(run.step - 1, 0), run.schedule), seconds: (performance.now() - tally.startedAt) / 1000, fromCache,
  };
  return { stopped: false, stepInEpoch: progress.stepInEpoch, position: progress.position, record, startedAt: tally.startedAt };
}

/** The optimiser step being gathered: its place in the epoch, and its clips so far. */
interface StepProgress {
  stepInEpoch: number;
  /** Videos of the epoch's order consumed by the steps applied (where a resume starts). */
  position: number;
  clips: number;
  lossSum: number;
  correct: number;
}

/**
 * One side-network call's gradient, added to the step's accumulation. A non-finite loss stops
 * the run (the last checkpoint on disk is the last good one).
 */
function trainCall(
  run: TrainingRun, epoch: number, call: FeatureBatch<EpochItem>, accumulator: GradientAccumulator, progress: StepProgress, tally: EpochTally,
): void {
  const started = performance.now();
  const n = call.items.length;
  const { loss, correct, correctTop5 } = accumulateGradients(run.net, call.clips, call.items.map((it) => it.label), {
    clipsPerCall: n, smoothing: run.opts.labelSmoothing, accumulator,
  });
  if (!Number.isFinite(loss)) {
    throw new LosaError(
      `loss became ${loss} at step ${run.step + 1} (epoch ${epoch + 1}); stopped, the last good checkpoint is kept in ${path.join(run.runDir, RUN_FILES.last)}`,
    );
  }
  progress.clips += n;
  progress.lossSum += loss * n;
  progress.correct += correct;
  tally.add(call, loss, correct, correctTop5, performance.now() - started);
}

/** The AdamW update with the step's summed gradients, and its step event. */
function applyStep(
  run: TrainingRun, epoch: number, accumulator: GradientAccumulator, progress: StepProgress, tally: EpochTally, last: EpochItem,
): void {
  failpoint('train-step'); // the step's gradient computed, its update not yet applied
  const started = performance.now();
  const lr = learningRateAt(run.step, run.schedule);
  applyAccumulated(run.tf, accumulator, progress.clips, run.optimizer, run.net, lr);
  tally.time.sideMs += performance.now() - started;
  run.step++;
  progress.stepInEpoch++;
  progress.position = last.position + 1;
  run.emit({
    type: 'step', epoch: epoch + 1, step: run.step, totalSteps: run.opts.epochs * run.stepsPerEpoch, stepInEpoch: progress.stepInEpoch,
    stepsInEpoch: run.stepsPerEpoch, loss: progress.lossSum / progress.clips, accuracy: progress.correct / progress.clips, lr,
    clipsPerSecond: tally.seen / ((performance.now() - tally.startedAt) / 1000), fromCache: tally.cachedSinceStep,
    time: tally.perClip(), memory: { rssBytes: process.memoryUsage().rss, tensors: run.tf.memory().numTensors },
  });
  tally.cachedSinceStep = true;
  Object.assign(progress, { clips: 0, lossSum: 0, correct: 0 });
}
