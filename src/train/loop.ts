// Training, as a short sequence of named steps, each its own function (and file) that a test
// can call alone: prepare the run, then per epoch train one epoch, validate, save; a stop
// request saves a checkpoint where the epoch stopped (during validation: at the epoch's end,
// validation to be done again). The loop emits typed events and writes the run directory; it
// knows nothing of the screen.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LosaError } from '../errors.js';
import { exists } from '../fsutil.js';
import { RUN_FILES } from '../model/run.js';
import { trainEpoch, type EpochResult } from './epoch.js';
import type { EpochSummary, EventSink } from './events.js';
import type { TrainOptions } from './options.js';
import { prepareRun, type TrainingRun } from './prepare.js';
import { saveCheckpoint, saveEpoch, type TrainHooks } from './save.js';
import { validate } from './validate.js';
import { RunWriteError, writeManifest } from './rundir.js';

export interface TrainResult {
  status: 'done' | 'stopped';
  runDir: string;
  epochs: EpochSummary[];
  bestTop1: number | null;
  skipped: Map<string, string>;
  files: string[];
}

/** Train the side network; resolves when done or stopped (signal), throws LosaError on failure. */
export async function train(
  opts: TrainOptions,
  emit: EventSink,
  signal: AbortSignal = new AbortController().signal,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  try {
    return await trainEpochs(opts, emit, signal, hooks);
  } catch (error) {
    if (error instanceof RunWriteError) throw await afterWriteFailure(error, path.resolve(opts.out));
    throw error;
  }
}

async function trainEpochs(opts: TrainOptions, emit: EventSink, signal: AbortSignal, hooks: TrainHooks): Promise<TrainResult> {
  const started = performance.now();
  const run = await prepareRun(opts, emit);
  try {
    emit({ type: 'start', run: run.info });
    const epochs: EpochSummary[] = [];
    for (let epoch = run.start.epoch; epoch < opts.epochs; epoch++) {
      const trained = await trainEpoch(run, epoch, signal);
      if (trained.stopped) return await stop(run, epoch, trained, epochs, started);
      const checked = await validate(run, epoch, signal);
      if (checked.stopped) return await stop(run, epoch, trained, epochs, started, trained.record);
      epochs.push(await saveEpoch(run, epoch, trained, checked.val, hooks));
    }
    return await finish(run, epochs, started);
  } finally {
    await run.dispose();
  }
}

/** A write to the run directory failed (a full disk): the error, with what is left to resume from. */
async function afterWriteFailure(error: RunWriteError, runDir: string): Promise<LosaError> {
  const last = path.join(runDir, RUN_FILES.last);
  const next = (await exists(last))
    ? `the run stopped; its last checkpoint ${last} is kept: make room, then continue with --resume`
    : 'the run stopped before its first checkpoint: make room, then start it again';
  return new LosaError(`${error.message}; ${next}`, { cause: error });
}

/**
 * A stop request: the checkpoint at the exact position the epoch reached, and the end event.
 * `validating`: the stop came during validation; the epoch's training record goes with the
 * checkpoint and nothing of the partial validation is kept.
 */
async function stop(
  run: TrainingRun, epoch: number, trained: EpochResult, epochs: EpochSummary[], started: number, validating?: EpochResult['record'],
): Promise<TrainResult> {
  await saveCheckpoint(run, epoch, trained.stepInEpoch, trained.position, validating);
  const where = validating ? ` during the validation of epoch ${epoch + 1} (it is done again on resume)` : '';
  return end(run, 'stopped', epochs, started, `stopped at step ${run.step}${where}; resume with --resume`);
}

/** Every epoch done: the manifest marked finished, and the end event. */
async function finish(run: TrainingRun, epochs: EpochSummary[], started: number): Promise<TrainResult> {
  run.manifest.progress.finished = true;
  await writeManifest(run.runDir, run.manifest);
  run.files.add(path.join(run.runDir, RUN_FILES.metrics));
  return end(run, 'done', epochs, started);
}

function end(run: TrainingRun, status: TrainResult['status'], epochs: EpochSummary[], started: number, message?: string): TrainResult {
  const files = [...run.files];
  const bestTop1 = run.manifest.progress.bestTop1;
  const unused = run.backboneNote();
  if (unused) run.emit({ type: 'log', level: 'info', message: unused });
  run.emit({ type: 'end', status, seconds: (performance.now() - started) / 1000, bestTop1: bestTop1 ?? undefined, files, ...(message ? { message } : {}) });
  return { status, runDir: run.runDir, epochs, bestTop1, skipped: run.skipped, files };
}
