// A trained run's directory, as inference reads it (DESIGN.md "Trained run directory"):
//   run.json           the manifest: classes, backbone config and weights digest, sampling,
//                      side-network config, training settings, progress
//   best.safetensors   side-network weights of the best epoch by validation top-1
//   last.safetensors   the last checkpoint: the same weights plus the optimiser state
//   metrics.jsonl, train.log, curves.svg, confusion.svg
// Training writes it (src/train/rundir.ts); everything here only reads. The manifest is typed
// and checked when read, so a damaged or foreign run.json is one line naming the file, not a
// crash deep inside the backbone or the side network.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { validateBackboneConfig, type BackboneConfig } from '../backbone/config.js';
import { LosaError, errorMessage } from '../errors.js';
import { describeIoError, errnoCode, exists } from '../fsutil.js';
import { SafetensorsFile } from '../safetensors.js';
import { validateSideConfig, type SideConfig } from '../side/config.js';
import type { TrainOptions } from '../train/options.js';
import type { Stride } from '../video/sampling.js';

export const RUN_FILES = {
  manifest: 'run.json',
  last: 'last.safetensors',
  best: 'best.safetensors',
  metrics: 'metrics.jsonl',
  log: 'train.log',
  curves: 'curves.svg',
  confusion: 'confusion.svg',
} as const;

/** How the run samples clips; testing uses numFrames, size and stride of it. */
export interface RunSampling {
  numFrames: number;
  size: number;
  sampling: 'segment' | 'window';
  stride: Stride;
  flip: boolean;
  scale: readonly [number, number];
  ratio: readonly [number, number];
}

/** The frozen backbone a run was trained on; `digest` covers config, weights bytes, pooling and layers. */
export interface RunBackbone {
  name: string;
  config: BackboneConfig;
  /** The weights file (absolute), or null for seeded random weights. */
  weights: string | null;
  digest: string;
  pool: string;
  layers: string;
  /** Seed of the random weights. */
  seed: number;
  params: number;
}

export interface RunProgress {
  epoch: number;
  step: number;
  bestTop1: number | null;
  bestEpoch: number | null;
  finished: boolean;
}

/** Everything needed to rebuild the same clip → logits function, and the record of how it was trained. */
export interface RunManifest {
  format: 'losa-run';
  version: 1;
  classes: string[];
  backbone: RunBackbone;
  sampling: RunSampling;
  side: SideConfig;
  /** The training settings as given (`out` resolved). */
  training: TrainOptions;
  data: { source: string; trainClips: number; valClips: number };
  progress: RunProgress;
  createdAt: string;
  updatedAt: string;
}

/** Reads and checks `run.json` of a run directory. */
export async function readRunManifest(runDir: string): Promise<RunManifest> {
  const file = path.join(runDir, RUN_FILES.manifest);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') throw new LosaError(`${runDir}: not a losa run directory (no ${RUN_FILES.manifest})`);
    throw new LosaError(`${file}: cannot read (${describeIoError(error)})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new LosaError(`${file}: not valid JSON (${errorMessage(error)})`);
  }
  return checkManifest(raw, file);
}

function checkManifest(raw: unknown, file: string): RunManifest {
  const m = raw as RunManifest;
  if (!m || typeof m !== 'object' || m.format !== 'losa-run') throw new LosaError(`${file}: not a losa run manifest`);
  if (m.version !== 1) throw new LosaError(`${file}: run format version ${JSON.stringify(m.version)}, this losa reads version 1`);
  const bad = (what: string): never => {
    throw new LosaError(`${file}: ${what}`);
  };
  if (!Array.isArray(m.classes) || m.classes.length < 2 || !m.classes.every((c) => typeof c === 'string')) bad('`classes` is not a list of class names');
  if (!m.backbone || typeof m.backbone.digest !== 'string' || typeof m.backbone.pool !== 'string' || typeof m.backbone.layers !== 'string') {
    bad('`backbone` lacks its digest, pool or layers');
  }
  const s = m.sampling;
  const count = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 1;
  if (!s || !count(s.numFrames) || !count(s.size) || !(s.stride === 'auto' || count(s.stride))) bad('`sampling` lacks numFrames, size or stride');
  try {
    m.backbone.config = validateBackboneConfig(m.backbone.config, `${file} (backbone.config)`);
    validateSideConfig(m.side);
  } catch (error) {
    bad(errorMessage(error));
  }
  if (m.side.numClasses !== m.classes.length) bad(`the side network has ${m.side.numClasses} classes, \`classes\` lists ${m.classes.length}`);
  m.training ??= {} as TrainOptions;
  m.training.seed ??= 0;
  return m;
}

export type RunCheckpoint = 'best' | 'last';

/** The weights file of a run: best.safetensors (or last with `which: 'last'`), else the other one. */
export async function runWeightsFile(runDir: string, which: RunCheckpoint = 'best'): Promise<string> {
  const files = which === 'last' ? [RUN_FILES.last, RUN_FILES.best] : [RUN_FILES.best, RUN_FILES.last];
  for (const name of files) if (await exists(path.join(runDir, name))) return path.join(runDir, name);
  throw new LosaError(`${runDir}: no trained weights (${RUN_FILES.best} or ${RUN_FILES.last})`);
}

/**
 * The side-network tensors of a weights file (best or last), by name; the optimiser state a
 * last checkpoint also holds (`optimizer.*`) is not read.
 */
export async function readSideWeights(file: string): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const st = await SafetensorsFile.open(file);
  try {
    const weights = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const name of st.names()) {
      if (name.startsWith('optimizer.')) continue;
      weights.set(name, { shape: st.info(name).shape, data: await st.readFloat32(name) });
    }
    return weights;
  } finally {
    await st.close();
  }
}
