// Step 2 of a training run: one epoch. The training videos in this epoch's shuffled order
// (from the resume point), through the feature pipeline in batches, a gradient per batch and an
// AdamW update every --accumulate batches, a step event after each update. A stop request ends
// the epoch after the update in progress; the caller then saves a checkpoint.
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
  const progress = { stepInEpoch: resumed.stepInEpoch, position: resumed.position, batches: 0, accumulated: 0 };
  const accumulator = new GradientAccumulator();
  try {
    const batches = featureBatches(epochItems(run, epoch, resumed.position), {
      backbone: run.backbone, batchSize: opts.batchSize, concurrency: opts.workers, cache, signal,
      plan: (item) => trainingPlan({ ...run.manifest.sampling, seed: opts.seed }, item.path, view),
    });
    for await (const batch of batches) {
      if (isSkipped(batch)) {
        run.skip(batch.skipped, batch.reason);
        continue;
      }
      if (trainBatch(run, epoch, batch, accumulator, progress, tally) && signal.aborted) break;
    }
    if (signal.aborted) return { stopped: true, stepInEpoch: progress.stepInEpoch, position: progress.position, startedAt: tally.startedAt };
    if (progress.accumulated > 0) {
      // The epoch's last, partial accumulation still counts as a step.
      applyAccumulated(run.tf, accumulator, progress.accumulated, run.optimizer, run.net, learningRateAt(run.step, run.schedule));
      run.step++;
      progress.stepInEpoch++;
    }
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

/**
 * The gradient of one batch, added to the accumulation; every --accumulate batches, an AdamW
 * update and a step event. Returns whether an update was applied. A non-finite loss stops the
 * run (the last checkpoint on disk is the last good one).
 */
function trainBatch(
  run: TrainingRun, epoch: number, batch: FeatureBatch<EpochItem>, accumulator: GradientAccumulator,
  progress: { stepInEpoch: number; position: number; batches: number; accumulated: number }, tally: EpochTally,
): boolean {
  const started = performance.now();
  const b = batch.items.length;
  const { loss, correct, correctTop5 } = accumulateGradients(run.tf, run.net, batch.features, batch.items.map((it) => it.label), {
    clipsPerCall: run.sideClips, smoothing: run.opts.labelSmoothing, accumulator,
  });
  if (!Number.isFinite(loss)) {
    throw new LosaError(
      `loss became ${loss} at step ${run.step + 1} (epoch ${epoch + 1}); stopped, the last good checkpoint is kept in ${path.join(run.runDir, RUN_FILES.last)}`,
    );
  }
  failpoint('train-step'); // the gradient computed, the update not yet applied
  progress.accumulated += b;
  progress.batches++;
  const lr = learningRateAt(run.step, run.schedule);
  const apply = progress.batches % run.opts.accumulate === 0;
  if (apply) {
    applyAccumulated(run.tf, accumulator, progress.accumulated, run.optimizer, run.net, lr);
    progress.accumulated = 0;
    run.step++;
    progress.stepInEpoch++;
    progress.position = batch.items[b - 1]!.position + 1;
  }
  tally.add(batch, loss, correct, correctTop5, performance.now() - started);
  if (apply) {
    run.emit({
      type: 'step', epoch: epoch + 1, step: run.step, totalSteps: run.opts.epochs * run.stepsPerEpoch, stepInEpoch: progress.stepInEpoch,
      stepsInEpoch: run.stepsPerEpoch, loss, accuracy: correct / b, lr,
      clipsPerSecond: tally.seen / ((performance.now() - tally.startedAt) / 1000), fromCache: tally.cachedSinceStep,
      time: tally.perClip(), memory: { rssBytes: process.memoryUsage().rss, tensors: run.tf.memory().numTensors },
    });
    tally.cachedSinceStep = true;
  }
  return apply;
}
