// Step 1 of a training run: prepare it. Open (or resume) the run directory, list the data,
// load the frozen backbone, build the side network and its optimiser (restored from the last
// checkpoint on --resume), write the manifest and pick the feature cache. The result holds
// everything the later steps (one epoch, validate, save) work on.
import path from 'node:path';
import { loadBackbone, openLazyBackbone, resolveBackbone, type Backbone, type BackboneConfig, type BackboneOptions } from '../backbone/index.js';
import type { Dataset, DatasetItem } from '../data/index.js';
import { LosaError } from '../errors.js';
import { FeatureCache, clipFeatureSize } from '../features/index.js';
import { formatBytes } from '../fsutil.js';
import { holdYoungGeneration } from '../gc.js';
import { RUN_FILES, type RunManifest } from '../model/index.js';
import {
  AdamW, createSideNetwork, defaultSideConfig, initTf, setSideWeights, type LrSchedule, type SideConfig, type SideNetwork, type TfHandle,
  usesHostKernels,
} from '../side/index.js';
import { decoderLabel } from '../video/index.js';
import { openData } from './data.js';
import type { EventSink, RunInfo } from './events.js';
import { sideClipsPerCall } from './gradients.js';
import { RunLog } from './log.js';
import { AUTO_CACHE_BYTES, defaultCacheDir, type TrainOptions } from './options.js';
import { NEW_RUN, openRunDir } from './resume.js';
import { runSampling } from './views.js';
import { writeManifest, writeMetrics, type MetricsRecord, type ResumePoint } from './rundir.js';

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
  /** train.log: what the run left out. */
  log: RunLog;
  /** Files a user will want next (reported at the end). */
  files: Set<string>;
  info: RunInfo;
  emit: EventSink;
  /** Records a video that could not be read (once): an event and a line in train.log. */
  skip(item: DatasetItem, reason: string): void;
  /** Said at the end of a run whose lazy backbone never started (every clip came from the cache). */
  backboneNote(): string | undefined;
  /** Frees the side network and the optimiser, ends the backbone process, writes the log's last lines. */
  dispose(): Promise<void>;
}

export async function prepareRun(opts: TrainOptions, emit: EventSink): Promise<TrainingRun> {
  const { runDir, previous } = await openRunDir(opts);
  const log = new RunLog(path.join(runDir, RUN_FILES.log), (message) => emit({ type: 'log', level: 'warn', message }));
  const { trainSet, valSet } = await openData(opts, previous?.manifest ?? null, log, emit);
  // The TensorFlow.js backend before the backbone: it is checked in a second, while a large
  // backbone takes minutes and gigabytes to load (ViT-e: 74 s, 14.7 GiB).
  const { tf, backend } = await initTf(opts.tfBackend);
  if (!usesHostKernels()) holdYoungGeneration(false); // held since the command started (commands/index.ts)
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
    if (previous && previous.manifest.backbone.digest !== backbone.digest) {
      throw new LosaError(`${runDir}: the backbone (config, weights, pooling or layers) differs from the one this run was trained with`);
    }
    const side = defaultSideConfig(
      { numFrames: opts.numFrames, numLayers: backbone.layers.length, tokens: backbone.tokens, width: backbone.width, numClasses: trainSet.classes.length },
      { kind: opts.side, rank: opts.rank, temporalRank: opts.temporalRank, spatialRank: opts.spatialRank },
    );
    net = createSideNetwork(side, opts.seed);
    if (previous?.weights) {
      setSideWeights(net, previous.weights);
      optimizer.setState({ step: previous.start.optimizerStep, tensors: previous.optimizer });
    }
    if (previous) await writeMetrics(runDir, previous.metrics);
    const manifest = previous?.manifest ?? newManifest(opts, runDir, config, backbone, side, trainSet, valSet);
    manifest.progress.finished = false;
    await writeManifest(runDir, manifest);
    const cache = await openCache(opts, trainSet.items.length, valSet?.items.length ?? 0, backbone, emit);
    if (cache && 'loaded' in backbone && !backbone.loaded) {
      emit({ type: 'log', level: 'info', message: `backbone not loaded: features come from the cache ${cache.dir}; it starts only for a clip missing there` });
    }
    return assemble({
      opts, runDir, manifest, trainSet, valSet, backbone, tf, net, optimizer, emit, log, resumed: previous !== null,
      start: previous?.start ?? NEW_RUN, metrics: previous?.metrics ?? [], cache, tfBackend: backend, decoder: await decoderLabel(),
    });
  } catch (error) {
    net?.dispose();
    optimizer.dispose();
    await backbone.dispose();
    await log.flush();
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

/**
 * The feature cache: the folder given, or with 'auto' the user's cache folder when the data
 * set's features take at most AUTO_CACHE_BYTES. A cap smaller than the run's features is said
 * at the start: least recently used entries would go before an epoch comes back to them.
 */
async function openCache(opts: TrainOptions, trainClips: number, valClips: number, backbone: Backbone, emit: EventSink): Promise<FeatureCache | undefined> {
  if (opts.cache === undefined) return undefined;
  const views = trainClips * opts.cacheViews + valClips * opts.valViews * opts.valCrops;
  const bytes = views * clipFeatureSize(backbone, opts.numFrames) * (opts.cacheDtype === 'F16' ? 2 : 4);
  if (opts.cache === 'auto' && bytes > AUTO_CACHE_BYTES) {
    emit({ type: 'log', level: 'info', message: `feature cache off: it would take ${formatBytes(bytes)}; pass --cache DIR to use one anyway` });
    return undefined;
  }
  const dir = opts.cache === 'auto' ? defaultCacheDir() : path.resolve(opts.cache);
  const cache = new FeatureCache(dir, backbone.digest, opts.cacheDtype, {
    maxBytes: opts.cacheMax, warn: (message) => emit({ type: 'log', level: 'warn', message }),
  });
  const cap = await cache.maxBytes();
  if (bytes > cap) {
    emit({
      type: 'log', level: 'warn',
      message: `feature cache ${dir}: this run's features take ${formatBytes(bytes)}, more than its cap of ${formatBytes(cap)}; ` +
        'entries will be evicted before they are used again (raise --cache-max, or pass --no-cache)',
    });
  }
  return cache;
}

type Parts = Pick<TrainingRun, 'opts' | 'runDir' | 'manifest' | 'trainSet' | 'valSet' | 'backbone' | 'tf' | 'net' | 'optimizer' | 'cache' | 'start' | 'metrics' | 'emit' | 'log'> & {
  tfBackend: string;
  decoder: string;
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
      missing: trainSet.problems.length + (valSet?.problems.length ?? 0), validation: valSet !== null,
    },
    decoder: p.decoder, epochs: opts.epochs, stepsPerEpoch, batchSize: opts.batchSize, numFrames: opts.numFrames, outDir: runDir, cache: p.cache?.dir,
    resumedFrom: p.resumed ? { epoch: start.epoch + 1, stepInEpoch: start.stepInEpoch, step: start.step } : undefined,
  };
  const { tfBackend: _backend, decoder: _decoder, resumed: _resumed, ...parts } = p;
  return {
    ...parts, info, skipped, stepsPerEpoch, step: start.step, files: new Set([runDir]),
    sideClips: sideClipsPerCall(net.config, opts.batchSize, opts.sideBatch),
    schedule: { baseLr: opts.lr, warmupSteps: opts.warmupEpochs * stepsPerEpoch, totalSteps: opts.epochs * stepsPerEpoch },
    skip(item, reason) {
      if (skipped.has(item.path)) return;
      skipped.set(item.path, reason);
      p.emit({ type: 'skip', path: item.path, reason, skipped: skipped.size });
      p.log.write(`skipped: ${item.path}: ${reason}`);
    },
    backboneNote: () => neverStarted(backbone, p.cache),
    async dispose() {
      net.dispose();
      p.optimizer.dispose();
      await backbone.dispose();
      await p.log.flush();
    },
  };
}
