// Writing a trained run's directory (src/model/run.ts says what is in it and reads it back):
// the manifest, the resumable checkpoint (side-network weights, the AdamW moments under
// `optimizer.m.*` / `optimizer.v.*` and the resume point in the metadata, in one file, so a
// checkpoint is written and renamed into place in one step), the best weights, metrics.jsonl
// and train.log. Every file is written to a temporary name and renamed.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LosaError } from '../errors.js';
import { writeFileAtomic } from '../fsutil.js';
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
}

export async function writeManifest(runDir: string, manifest: RunManifest): Promise<void> {
  manifest.updatedAt = new Date().toISOString();
  await writeFileAtomic(path.join(runDir, RUN_FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
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
  await writeSafetensors(file, tensors, {
    format: 'losa-checkpoint',
    epoch: String(point.epoch),
    stepInEpoch: String(point.stepInEpoch),
    position: String(point.position),
    step: String(point.step),
    optimizerStep: String(optimizer.step),
  });
  return file;
}

export async function saveBestWeights(runDir: string, weights: NamedTensor[], epoch: number, top1: number): Promise<string> {
  const file = path.join(runDir, RUN_FILES.best);
  await writeSafetensors(file, weights, { format: 'losa-weights', epoch: String(epoch), top1: String(top1) });
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
    const m = st.metadata;
    const point =
      m.format === 'losa-checkpoint'
        ? {
            epoch: Number(m.epoch), stepInEpoch: Number(m.stepInEpoch), position: Number(m.position), step: Number(m.step),
            optimizerStep: Number(m.optimizerStep),
          }
        : null;
    if (point && !Object.values(point).every(Number.isSafeInteger)) {
      throw new LosaError(`${file}: checkpoint metadata is damaged (${JSON.stringify(m)})`);
    }
    return { weights, optimizer, point };
  } finally {
    await st.close();
  }
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

export async function readMetrics(runDir: string): Promise<MetricsRecord[]> {
  let text = '';
  try {
    text = await fs.readFile(path.join(runDir, RUN_FILES.metrics), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as MetricsRecord];
      } catch {
        return []; // a line cut short by a kill: ignore it
      }
    });
}

/** Rewrite metrics.jsonl atomically with these records (used on resume to drop epochs past the checkpoint). */
export async function writeMetrics(runDir: string, records: MetricsRecord[]): Promise<void> {
  await writeFileAtomic(path.join(runDir, RUN_FILES.metrics), records.map((r) => JSON.stringify(r) + '\n').join(''));
}

/** Append one record. A record is one short line written with one call, so a kill loses at most that line. */
export async function appendMetrics(runDir: string, record: MetricsRecord): Promise<void> {
  await fs.appendFile(path.join(runDir, RUN_FILES.metrics), JSON.stringify(record) + '\n');
}

export async function appendLog(runDir: string, line: string): Promise<void> {
  await fs.appendFile(path.join(runDir, RUN_FILES.log), `${new Date().toISOString()} ${line}\n`);
}
