// Step 1 of a training run: prepare it. Open (or resume) the run directory, list the data,
// load the frozen backbone, build the side network and its optimiser (restored from the last
// checkpoint on --resume), write the manifest and pick the feature cache. The result holds
// everything the later steps (one epoch, validate, save) work on.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadBackbone, openLazyBackbone, resolveBackbone, type Backbone, type BackboneConfig, type BackboneOptions } from '../backbone/index.js';
import { openDataset, type Dataset, type DatasetItem } from '../data/index.js';
import { LosaError, errorMessage } from '../errors.js';
import { FeatureCache, clipFeatureSize } from '../features/index.js';
import { exists, formatBytes } from '../fsutil.js';
import { RUN_FILES, readRunManifest, type RunManifest } from '../model/index.js';
import {
  AdamW, createSideNetwork, defaultSideConfig, initTf, setSideWeights, type LrSchedule, type SideConfig, type SideNetwork, type TfHandle,
} from '../side/index.js';
import type { EventSink, RunInfo } from './events.js';
import { sideClipsPerCall } from './gradients.js';
import { openValidation } from './sets.js';
import { AUTO_CACHE_BYTES, defaultCacheDir, type TrainOptions } from './options.js';
import { runSampling } from './views.js';
import { appendLog, readCheckpoint, readMetrics, writeManifest, writeMetrics, type MetricsRecord, type ResumePoint } from './rundir.js';

/** A training run in progress: what every step works on. */
export interface TrainingRun {
  opts: TrainOptions;
  runDir: string;
  manifest: RunManifest;
  trainSet: Dataset;
  valSet: Dataset | null;
  backbone: Backbone;
  tf: TfHandle['tf'];
  net: SideNetwork;
  optimizer: AdamW;
  cache?: FeatureCache;
  /** Clips per side-network call (the batch's gradient is accumulated over the calls). */
  sideClips: number;
  stepsPerEpoch: number;
  schedule: LrSchedule;
  /** Where this session starts: the beginning, or the checkpoint of a resumed run. */
  start: ResumePoint;
  /** Optimiser steps so far, counted from the run's start. */
  step: number;
  /** Every metrics record so far (metrics.jsonl). */
  metrics: MetricsRecord[];
  /** Videos that could not be read, with the reason; they are left out from then on. */
  skipped: Map<string, string>;
  /** Files a user will want next (reported at the end). */
  files: Set<string>;
  info: RunInfo;
  emit: EventSink;
  /** Records a video that could not be read (once): an event and a line in train.log. */
  skip(item: DatasetItem, reason: string): void;
  dispose(): Promise<void>;
}

export async function prepareRun(opts: TrainOptions, emit: EventSink): Promise<TrainingRun> {
  const { runDir, previous } = await openRunDir(opts);
  const { trainSet, valSet } = await openData(opts, previous, runDir, emit);
  // A preset, a config file, or a model folder (its config, preprocessing and weights together).
  const resolved = await resolveBackbone(opts.backbone);
  if (resolved.folder) emit({ type: 'log', level: 'info', message: `backbone folder ${resolved.folder.note}` });
  const config: BackboneConfig = opts.imageSize ? { ...resolved.config, imageSize: opts.imageSize } : resolved.config;
  const weights = opts.weights ?? resolved.weights;
  const backbone = await openBackbone(opts, {
    config, weights, pool: opts.pool, layers: opts.layers, device: opts.device, chunk: opts.chunk, seed: opts.backboneSeed,
  }, emit);
  let net: SideNetwork | undefined;
  const optimizer = new AdamW({ weightDecay: opts.weightDecay });
  try {
    if (previous && previous.backbone.digest !== backbone.digest) {
      throw new LosaError(`${runDir}: the backbone (config, weights, pooling or layers) differs from the one this run was trained with`);
    }
    const { tf, backend } = await initTf(opts.tfBackend);
    const side = defaultSideConfig(
      { numFrames: opts.numFrames, numLayers: backbone.layers.length, tokens: backbone.tokens, width: backbone.width, numClasses: trainSet.classes.length },
      { kind: opts.side, rank: opts.rank, temporalRank: opts.temporalRank, spatialRank: opts.spatialRank },
    );
    net = createSideNetwork(side, opts.seed);
    const { start, metrics } = previous ? await restore(runDir, net, optimizer) : { start: NEW_RUN, metrics: [] };
    const manifest = previous ?? newManifest(opts, runDir, config, backbone, side, trainSet, valSet);
    manifest.progress.finished = false;
    await writeManifest(runDir, manifest);
    const cacheDir = chooseCache(opts, trainSet.items.length, valSet?.items.length ?? 0, backbone, emit);
    if (cacheDir && 'loaded' in backbone && !backbone.loaded) {
      emit({ type: 'log', level: 'info', message: `backbone not loaded: features come from the cache ${cacheDir}; it starts only for a clip missing there` });
    }
    return assemble({
      opts, runDir, manifest, trainSet, valSet, backbone, tf, net, optimizer, start, metrics, emit, resumed: previous !== null,
      cache: cacheDir ? new FeatureCache(cacheDir, backbone.digest, opts.cacheDtype) : undefined,
      tfBackend: backend,
    });
  } catch (error) {
    net?.dispose();
    optimizer.dispose();
    await backbone.dispose();
    throw error;
  }
}

// --- the lazy backbone (a run on a cache filled by `losa extract` never starts it) ---

/**
 * With a feature cache, the backbone's session starts at the first clip missing from the cache
 * (its digest, which keys the cache, needs only the config and the weights' bytes); without
 * one, every clip needs it, so it starts now.
 */
async function openBackbone(opts: TrainOptions, options: BackboneOptions, emit: EventSink): Promise<Backbone> {
  if (opts.cache === undefined) return loadBackbone(options);
  return openLazyBackbone(options, {
    onLoad: () => emit({ type: 'log', level: 'info', message: 'starting the backbone: a clip\'s features are not in the cache' }),
  });
}

/** What `dispose` says of a lazy backbone that never started. */
function neverStarted(backbone: Backbone, cache: FeatureCache | undefined): string | undefined {
  if (!cache || !('loaded' in backbone) || backbone.loaded) return undefined;
  return `the backbone was never started: every clip's features came from the cache ${cache.dir}`;
}

// --- end of the lazy backbone ---

const NEW_RUN: ResumePoint = { epoch: 0, stepInEpoch: 0, position: 0, step: 0, optimizerStep: 0 };

/** The run directory, created; with --resume, the manifest of the run to continue. */
async function openRunDir(opts: TrainOptions): Promise<{ runDir: string; previous: RunManifest | null }> {
  const runDir = path.resolve(opts.out);
  let previous: RunManifest | null = null;
  if (await exists(path.join(runDir, RUN_FILES.manifest))) {
    if (!opts.resume) throw new LosaError(`${runDir}: a run already exists here; pass --resume to continue it or choose another --out`);
    previous = await readRunManifest(runDir);
  } else if (opts.resume && !(await exists(path.join(runDir, RUN_FILES.last)))) {
    throw new LosaError(`${runDir}: nothing to resume (no ${RUN_FILES.last})`);
  }
  await fs.mkdir(runDir, { recursive: true });
  return { runDir, previous };
}

/** The training and validation sets; entries that could not be listed are logged. */
async function openData(opts: TrainOptions, previous: RunManifest | null, runDir: string, emit: EventSink): Promise<{ trainSet: Dataset; valSet: Dataset | null }> {
  const trainSet = await openDataset(opts.data, { split: opts.trainSplit });
  if (trainSet.items.length === 0) throw new LosaError(`${opts.data}: no training videos found in split "${opts.trainSplit}"`);
  if (previous && previous.classes.join('\n') !== trainSet.classes.join('\n')) {
    throw new LosaError(`${opts.data}: classes differ from the run being resumed (${previous.classes.join(', ')})`);
  }
  const valSet = await openValidation(opts, trainSet.classes, emit);
  for (const p of [...trainSet.problems, ...(valSet?.problems ?? [])]) {
    emit({ type: 'log', level: 'warn', message: `${p.path}: ${p.reason}` });
    await appendLog(runDir, `listing: ${p.path}: ${p.reason}`);
  }
  return { trainSet, valSet };
}

/** Weights, optimiser state, resume point and metrics of the last checkpoint. */
async function restore(runDir: string, net: SideNetwork, optimizer: AdamW): Promise<{ start: ResumePoint; metrics: MetricsRecord[] }> {
  const file = path.join(runDir, RUN_FILES.last);
  const ckpt = await readCheckpoint(file);
  if (!ckpt.point) throw new LosaError(`${file}: not a resumable checkpoint`);
  setSideWeights(net, ckpt.weights);
  optimizer.setState({ step: ckpt.point.optimizerStep, tensors: ckpt.optimizer });
  const start = ckpt.point;
  // Records of epochs after the checkpoint (a kill between metrics and checkpoint) are dropped.
  const metrics = (await readMetrics(runDir)).filter((r) => r.epoch <= start.epoch);
  await writeMetrics(runDir, metrics);
  return { start, metrics };
}

function newManifest(
  opts: TrainOptions, runDir: string, config: BackboneConfig, backbone: Backbone, side: SideConfig, trainSet: Dataset, valSet: Dataset | null,
): RunManifest {
  return {
    format: 'losa-run',
    version: 1,
    classes: trainSet.classes,
    backbone: {
      name: backbone.name, config: { ...config }, weights: backbone.weightsFile ? path.resolve(backbone.weightsFile) : null, digest: backbone.digest,
      pool: opts.pool, layers: opts.layers, seed: opts.backboneSeed, params: backbone.params,
    },
    sampling: runSampling(opts, config.imageSize),
    side: { ...side },
    training: { ...opts, out: runDir },
    data: { source: path.resolve(opts.data), trainClips: trainSet.items.length, valClips: valSet?.items.length ?? 0 },
    progress: { epoch: 0, step: 0, bestTop1: null, bestEpoch: null, finished: false },
    createdAt: new Date().toISOString(),
    updatedAt: '',
  };
}

/** The cache folder to use, resolving 'auto' by the size the data set's features would take. */
function chooseCache(opts: TrainOptions, trainClips: number, valClips: number, backbone: Backbone, emit: EventSink): string | undefined {
  if (opts.cache !== 'auto') return opts.cache ? path.resolve(opts.cache) : undefined;
  const views = trainClips * opts.cacheViews + valClips * opts.valViews * opts.valCrops;
  const bytes = views * clipFeatureSize(backbone, opts.numFrames) * (opts.cacheDtype === 'F16' ? 2 : 4);
  if (bytes > AUTO_CACHE_BYTES) {
    emit({ type: 'log', level: 'info', message: `feature cache off: it would take ${formatBytes(bytes)}; pass --cache DIR to use one anyway` });
    return undefined;
  }
  return defaultCacheDir();
}

type Parts = Pick<TrainingRun, 'opts' | 'runDir' | 'manifest' | 'trainSet' | 'valSet' | 'backbone' | 'tf' | 'net' | 'optimizer' | 'cache' | 'start' | 'metrics' | 'emit'> & {
  tfBackend: string;
  resumed: boolean;
};

/** The run from its parts: schedule, side-network call size, the start event's RunInfo, skips, dispose. */
function assemble(p: Parts): TrainingRun {
  const { opts, trainSet, valSet, backbone, net, runDir, start } = p;
  const batchesPerEpoch = Math.ceil(trainSet.items.length / opts.batchSize);
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / opts.accumulate);
  const skipped = new Map<string, string>();
  const info: RunInfo = {
    command: 'train',
    backbone: { name: backbone.name, params: backbone.params, randomWeights: backbone.randomWeights, weights: backbone.weightsFile, device: backbone.device, chunk: backbone.chunk },
    side: { kind: opts.side, params: net.paramCount(), tfBackend: p.tfBackend },
    data: {
      root: opts.data, classes: trainSet.classes, trainClips: trainSet.items.length, valClips: valSet?.items.length ?? 0,
      missing: trainSet.problems.length + (valSet?.problems.length ?? 0),
    },
    epochs: opts.epochs, stepsPerEpoch, batchSize: opts.batchSize, numFrames: opts.numFrames, outDir: runDir, cache: p.cache?.dir,
    resumedFrom: p.resumed ? { epoch: start.epoch + 1, stepInEpoch: start.stepInEpoch, step: start.step } : undefined,
  };
  const { tfBackend: _backend, resumed: _resumed, ...parts } = p;
  return {
    ...parts, info, skipped, stepsPerEpoch, step: start.step, files: new Set([runDir]),
    sideClips: sideClipsPerCall(net.config, opts.batchSize, opts.sideBatch),
    schedule: { baseLr: opts.lr, warmupSteps: opts.warmupEpochs * stepsPerEpoch, totalSteps: opts.epochs * stepsPerEpoch },
    skip(item, reason) {
      if (skipped.has(item.path)) return;
      skipped.set(item.path, reason);
      p.emit({ type: 'skip', path: item.path, reason, skipped: skipped.size });
      void appendLog(runDir, `skipped: ${item.path}: ${reason}`);
    },
    async dispose() {
      const note = neverStarted(backbone, p.cache);
      if (note) p.emit({ type: 'log', level: 'info', message: note });
      net.dispose();
      p.optimizer.dispose();
      await backbone.dispose();
    },
  };
}
