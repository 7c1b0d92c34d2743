// Opening the run directory, and with --resume everything the run continues from: the manifest,
// the last checkpoint and the metrics. All of it is read before anything is written, so an
// unreadable or damaged file is one line naming it and the directory is left as it was.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LosaError } from '../errors.js';
import { exists } from '../fsutil.js';
import { RUN_FILES, readRunManifest, type RunManifest } from '../model/index.js';
import type { TrainOptions } from './options.js';
import { readCheckpoint, readMetrics, removeLeftoverTemps, type MetricsRecord, type NamedTensor, type ResumePoint } from './rundir.js';

/** What a resumed run continues from. */
export interface ResumeState {
  manifest: RunManifest;
  /** The checkpoint's side-network weights and optimiser state; null when the run was killed before its first. */
  weights: Map<string, { shape: number[]; data: Float32Array }> | null;
  optimizer: NamedTensor[];
  start: ResumePoint;
  /** The records of the epochs the checkpoint covers. */
  metrics: MetricsRecord[];
}

/** The run directory, created; with --resume, what the run continues from. */
export async function openRunDir(opts: TrainOptions): Promise<{ runDir: string; previous: ResumeState | null }> {
  const runDir = path.resolve(opts.out);
  const hasManifest = await exists(path.join(runDir, RUN_FILES.manifest));
  if (hasManifest && !opts.resume) throw new LosaError(`${runDir}: a run already exists here; pass --resume to continue it or choose another --out`);
  if (opts.resume && !hasManifest && !(await exists(path.join(runDir, RUN_FILES.last)))) {
    throw new LosaError(`${runDir}: nothing to resume (no ${RUN_FILES.last})`);
  }
  const previous = opts.resume ? await readResumeState(runDir) : null;
  await fs.mkdir(runDir, { recursive: true });
  // A kill during a write leaves its temporary file beside the intact one it was to replace.
  await removeLeftoverTemps(runDir);
  return { runDir, previous };
}

/** Where a run starts that has no checkpoint: the beginning. */
export const NEW_RUN: ResumePoint = { epoch: 0, stepInEpoch: 0, position: 0, step: 0, optimizerStep: 0 };

async function readResumeState(runDir: string): Promise<ResumeState> {
  const manifest = await readRunManifest(runDir);
  const file = path.join(runDir, RUN_FILES.last);
  // Killed before its first checkpoint: the run starts again from the beginning.
  const { weights, optimizer, point } = (await exists(file)) ? await readCheckpoint(file) : { weights: null, optimizer: [], point: NEW_RUN };
  if (!point) throw new LosaError(`${file}: not a resumable checkpoint`);
  // Records of epochs after the checkpoint (a kill between the metrics and the checkpoint) are dropped.
  const metrics = (await readMetrics(runDir)).filter((r) => r.epoch <= point.epoch);
  return { manifest, weights, optimizer, start: point, metrics };
}
