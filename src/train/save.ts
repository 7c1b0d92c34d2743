// Step 4 of a training run: save. After an epoch: its metrics, the best weights when validation
// improved, the resumable checkpoint, the epoch-end event and the command's own files (plots).
// After a stop: the checkpoint at the exact position the epoch reached (during validation: the
// epoch's end, with its training record, so that a resumed run validates it again).
import { performance } from 'node:perf_hooks';
import { getSideWeights } from '../side/index.js';
import type { EpochResult } from './epoch.js';
import type { EpochSummary } from './events.js';
import type { TrainingRun } from './prepare.js';
import { saveBestWeights, saveLastCheckpoint, writeManifest, writeMetrics, type MetricsRecord } from './rundir.js';

export interface TrainHooks {
  /** Called after each epoch's files are written (the command draws curves.svg here); returns files written. */
  afterEpoch?(runDir: string, metrics: MetricsRecord[]): Promise<string[]>;
}

/**
 * The resumable checkpoint after `stepInEpoch` steps of epoch `epoch` (from 0) that consumed
 * `position` videos; `trained`: the epoch's training is complete, its validation is not.
 */
export async function saveCheckpoint(run: TrainingRun, epoch: number, stepInEpoch: number, position: number, trained?: MetricsRecord): Promise<void> {
  const file = await saveLastCheckpoint(run.runDir, getSideWeights(run.net), run.optimizer.getState(), {
    epoch, stepInEpoch, position, step: run.step, optimizerStep: run.optimizer.step, trained,
  });
  run.manifest.progress.epoch = epoch;
  run.manifest.progress.step = run.step;
  await writeManifest(run.runDir, run.manifest);
  run.files.add(file);
  run.emit({ type: 'checkpoint', path: file, kind: 'last' });
}

/** Everything an epoch leaves behind (see the header); returns its summary. */
export async function saveEpoch(
  run: TrainingRun, epoch: number, trained: EpochResult, val: EpochSummary['val'], hooks: TrainHooks = {},
): Promise<EpochSummary> {
  const { opts, manifest } = run;
  const seconds = (performance.now() - trained.startedAt) / 1000;
  const train: MetricsRecord = { ...trained.record!, seconds };
  const records = val ? [train, { epoch: epoch + 1, split: opts.valSplit, loss: val.loss, top1: val.top1, top5: val.top5, step: run.step }] : [train];
  run.metrics.push(...records);
  await writeMetrics(run.runDir, run.metrics);
  // Best by validation top-1; without a validation split, the latest epoch is the best we know.
  const previousBest = manifest.progress.bestTop1;
  const best = !val || previousBest === null || val.top1 > previousBest;
  if (best) {
    manifest.progress.bestTop1 = val ? val.top1 : previousBest;
    manifest.progress.bestEpoch = epoch + 1;
    const file = await saveBestWeights(run.runDir, getSideWeights(run.net), epoch + 1, val ? val.top1 : Number.NaN);
    run.files.add(file);
    run.emit({ type: 'checkpoint', path: file, kind: 'best' });
  }
  await saveCheckpoint(run, epoch + 1, 0, 0);
  const summary: EpochSummary = {
    epoch: epoch + 1, trainLoss: train.loss, trainTop1: train.top1, val, seconds, fromCache: train.fromCache === true, lr: train.lr!, best,
  };
  run.emit({ type: 'epoch-end', summary });
  for (const f of (await hooks.afterEpoch?.(run.runDir, run.metrics)) ?? []) run.files.add(f);
  return summary;
}
