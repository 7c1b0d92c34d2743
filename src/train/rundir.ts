// Writing a trained run's directory (src/model/run.ts says what is in it and reads it back):
// the manifest, the resumable checkpoint (side-network weights, the AdamW moments under
// `optimizer.m.*` / `optimizer.v.*` and the resume point in the metadata, in one file, so a
// checkpoint is written and renamed into place in one step), the best weights and
// metrics.jsonl. Each is written whole to a temporary name, synced, renamed and the folder
// synced (fsutil.ts), so a kill or a power cut leaves the old file or the new one, never a part:
// metrics.jsonl too, rewritten whole at each epoch's end rather than appended to (it holds a
// few lines per epoch, and a record appended but not synced could vanish while the checkpoint
// after it survives). train.log alone is appended to (log.ts says why). A write that fails is
// a RunWriteError naming the file; what was there before is kept.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LosaError } from '../errors.js';
import { describeIoError, errnoCode, parseTempName, writeFileAtomic } from '../fsutil.js';
import { RUN_FILES, type RunManifest } from '../model/run.js';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../safetensors.js';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Where a resumed run picks up: after `stepInEpoch` optimiser steps of `epoch` (0-based), which
 * consumed the first `position` videos of that epoch's shuffled order (skipped ones included).
 */
export interface ResumePoint {
  epoch: number;
  stepInEpoch: number;
  position: number;
  step: number;
  optimizerStep: number;
  /**
   * Set when the epoch's training is complete and its validation is not (a stop during
   * validation): the epoch's training record. A resumed run validates, then saves the epoch.
   */
  trained?: MetricsRecord;
}

/** A file of the run directory could not be written; the file as it was before is kept. */
export class RunWriteError extends LosaError {
  override name = 'RunWriteError';
  constructor(readonly file: string, cause: unknown) {
    super(`${file}: cannot write (${describeIoError(cause)})`, { cause });
  }
}

/** `write()`, with a failure of the file system reported as a RunWriteError naming `file`. */
export async function writingRunFile<T>(file: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof LosaError || errnoCode(error) === undefined) throw error;
    throw new RunWriteError(file, error);
  }
}

export async function writeManifest(runDir: string, manifest: RunManifest): Promise<void> {
  manifest.updatedAt = new Date().toISOString();
  const file = path.join(runDir, RUN_FILES.manifest);
  await writingRunFile(file, () => writeFileAtomic(file, JSON.stringify(manifest, null, 2) + '\n'));
}

/**
 * Removes the temporary files of run files whose writer is gone (a kill during a write leaves
 * one; the file it was to replace is intact).
 */
export async function removeLeftoverTemps(runDir: string): Promise<void> {
  const runFiles = new Set<string>(Object.values(RUN_FILES));
  for (const name of await fs.readdir(runDir).catch(() => [] as string[])) {
    const temp = parseTempName(name);
    if (temp && runFiles.has(temp.target) && !processAlive(temp.pid)) await fs.rm(path.join(runDir, name), { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Save the resumable checkpoint: weights, optimiser moments and the resume point, in one file. */
export async function saveLastCheckpoint(
  runDir: string,
  weights: NamedTensor[],
  optimizer: { step: number; tensors: NamedTensor[] },
  point: ResumePoint,
): Promise<string> {
  const file = path.join(runDir, RUN_FILES.last);
  const tensors: TensorToWrite[] = [...weights, ...optimizer.tensors.map((t) => ({ ...t, name: `optimizer.${t.name}` }))];
  await writingRunFile(file, () => writeSafetensors(file, tensors, {
    format: 'losa-checkpoint',
    epoch: String(point.epoch),
    stepInEpoch: String(point.stepInEpoch),
    position: String(point.position),
    step: String(point.step),
    optimizerStep: String(optimizer.step),
    ...(point.trained ? { trained: JSON.stringify(point.trained) } : {}),
  }));
  return file;
}

export async function saveBestWeights(runDir: string, weights: NamedTensor[], epoch: number, top1: number): Promise<string> {
  const file = path.join(runDir, RUN_FILES.best);
  await writingRunFile(file, () => writeSafetensors(file, weights, { format: 'losa-weights', epoch: String(epoch), top1: String(top1) }));
  return file;
}

/** Read a weights file (best or last); optimiser tensors are split off. */
export async function readCheckpoint(file: string): Promise<{
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  optimizer: NamedTensor[];
  point: ResumePoint | null;
}> {
  const st = await SafetensorsFile.open(file);
  try {
    const weights = new Map<string, { shape: number[]; data: Float32Array }>();
    const optimizer: NamedTensor[] = [];
    for (const name of st.names()) {
      const { shape } = st.info(name);
      const data = await st.readFloat32(name);
      if (name.startsWith('optimizer.')) optimizer.push({ name: name.slice('optimizer.'.length), shape, data });
      else weights.set(name, { shape, data });
    }
    return { weights, optimizer, point: resumePoint(file, st.metadata) };
  } finally {
    await st.close();
  }
}

/** The resume point in a checkpoint's metadata; null for plain weights (best.safetensors). */
function resumePoint(file: string, m: Record<string, string>): ResumePoint | null {
  if (m.format !== 'losa-checkpoint') return null;
  const point: ResumePoint = {
    epoch: Number(m.epoch), stepInEpoch: Number(m.stepInEpoch), position: Number(m.position), step: Number(m.step),
    optimizerStep: Number(m.optimizerStep),
  };
  const damaged = (): never => {
    throw new LosaError(`${file}: checkpoint metadata is damaged (${JSON.stringify(m)})`);
  };
  if (!Object.values(point).every(Number.isSafeInteger)) damaged();
  if (m.trained !== undefined) {
    try {
      point.trained = JSON.parse(m.trained) as MetricsRecord;
    } catch {
      damaged();
    }
    if (!isMetricsRecord(point.trained)) damaged();
  }
  return point;
}

export interface MetricsRecord {
  epoch: number;
  split: string;
  loss: number;
  top1: number;
  top5: number;
  step?: number;
  lr?: number;
  seconds?: number;
  fromCache?: boolean;
  [key: string]: unknown;
}

function isMetricsRecord(r: unknown): r is MetricsRecord {
  const m = r as MetricsRecord;
  return typeof m === 'object' && m !== null && Number.isSafeInteger(m.epoch) && typeof m.split === 'string';
}

/**
 * The records of metrics.jsonl; none when there is no such file. A file that cannot be read,
 * or a line that is not a record, is an error naming the file: a resume that went on without
 * them would rewrite the file and lose the run's history.
 */
export async function readMetrics(runDir: string): Promise<MetricsRecord[]> {
  const file = path.join(runDir, RUN_FILES.metrics);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw new LosaError(`${file}: cannot read (${describeIoError(error)}); the run directory is left as it is`);
  }
  const lines = text.split('\n');
  const records: MetricsRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      record = undefined;
    }
    if (isMetricsRecord(record)) records.push(record);
    // An unterminated last line is a record cut short by a kill during an append (older losa
    // appended); anything else is damage that a resume must not paper over.
    else if (i < lines.length - 1) throw new LosaError(`${file}: line ${i + 1} is not a metrics record; the run directory is left as it is`);
  });
  return records;
}

/** Writes metrics.jsonl whole, atomically: at each epoch's end, and on resume without the epochs past the checkpoint. */
export async function writeMetrics(runDir: string, records: MetricsRecord[]): Promise<void> {
  const file = path.join(runDir, RUN_FILES.metrics);
  await writingRunFile(file, () => writeFileAtomic(file, records.map((r) => JSON.stringify(r) + '\n').join('')));
}
