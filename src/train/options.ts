// Training settings, with their defaults. Defaults that are not training's own (pooling, layers,
// ranks, sampling, crops, decoders) are imported from the module that applies them, so each is
// defined once; `losa train --help` shows these values.
import os from 'node:os';
import path from 'node:path';
// Leaf modules only: the CLI reads these defaults for --help without loading onnxruntime or
// TensorFlow.js.
import { DEFAULT_LAYERS, DEFAULT_POOL } from '../backbone/pooling.js';
import { DEFAULT_WORKERS } from '../features/pipeline.js';
import { SIDE_DEFAULTS } from '../side/config.js';
import type { TfBackendPreference } from '../side/backend.js';
import {
  DEFAULT_CROP_RATIO, DEFAULT_CROP_SCALE, DEFAULT_CROPS, DEFAULT_NUM_FRAMES, DEFAULT_SAMPLING, DEFAULT_STRIDE, DEFAULT_VIEWS,
} from '../video/sampling.js';

export interface TrainOptions {
  /** Data set source: a folder ROOT/<split>/<class>/…, a Kinetics CSV or a list file. */
  data: string;
  /** Validation source when it is not the same folder/CSV's `val` split. */
  valData?: string;
  /**
   * Whether the run validates after each epoch (default true). A validation source that yields
   * no videos is an error; training without validation takes `validation: false` (--no-val).
   */
  validation: boolean;
  trainSplit: string;
  valSplit: string;
  out: string;
  /** Backbone preset name or config file (default vit-ti16). */
  backbone: string;
  weights?: string;
  /** Input size in pixels instead of the config's (position embeddings are interpolated). */
  imageSize?: number;
  pool: string;
  layers: string;
  /** onnxruntime execution provider (default: the backbone's, cpu). */
  device?: 'cpu' | 'cuda';
  /** Frames per backbone call (default: from the memory budget). */
  chunk?: number;
  /** Seed of the random backbone weights when there is no weights file. */
  backboneSeed: number;
  epochs: number;
  batchSize: number;
  /**
   * Clips per side-network call (the batch's gradient is accumulated over the calls); default:
   * as many as fit SIDE_MEMORY_BYTES of activations, so memory is bounded whatever the batch.
   */
  sideBatch?: number;
  accumulate: number;
  numFrames: number;
  lr: number;
  weightDecay: number;
  warmupEpochs: number;
  labelSmoothing: number;
  seed: number;
  /**
   * Feature cache directory; 'auto' (the default) uses the user's cache folder
   * (defaultCacheDir()) when the features of the data set would take at most AUTO_CACHE_BYTES,
   * and no cache above that; undefined: no cache.
   */
  cache?: string;
  /** Augmented views per training video kept in the cache; epoch e uses view e mod N. */
  cacheViews: number;
  cacheDtype: 'F32' | 'F16';
  /**
   * The most bytes the cache folder may hold, least recently used entries evicted first;
   * recorded in the folder for its later users. Default: the folder's recorded cap, else
   * DEFAULT_CACHE_MAX (src/features/cache-folder.ts).
   */
  cacheMax?: number;
  resume: boolean;
  side: 'losa' | 'linear';
  rank: number;
  temporalRank: number;
  spatialRank: number;
  flip: boolean;
  sampling: 'segment' | 'window';
  /** Frame stride of window sampling (train) and of test views. */
  stride: number | 'auto';
  /** Area fraction and aspect ratio ranges of the random resized crop. */
  scale: readonly [number, number];
  ratio: readonly [number, number];
  valViews: number;
  valCrops: 1 | 3;
  /** Concurrent decoders. */
  workers: number;
  /** tfjs backend preference (default: LOSA_TF_BACKEND, else tensorflow, wasm, cpu). */
  tfBackend?: TfBackendPreference;
}

/** The default frozen backbone. */
export const DEFAULT_BACKBONE = 'vit-ti16';

export const TRAIN_DEFAULTS = {
  trainSplit: 'train',
  valSplit: 'val',
  validation: true,
  backbone: DEFAULT_BACKBONE,
  pool: DEFAULT_POOL,
  layers: DEFAULT_LAYERS,
  backboneSeed: 0,
  epochs: 30,
  batchSize: 8,
  accumulate: 1,
  numFrames: DEFAULT_NUM_FRAMES,
  lr: 3e-3,
  weightDecay: 0.05,
  warmupEpochs: 1,
  labelSmoothing: 0.1,
  seed: 0,
  cache: 'auto',
  cacheViews: 2,
  cacheDtype: 'F32',
  resume: false,
  side: SIDE_DEFAULTS.kind,
  rank: SIDE_DEFAULTS.rank,
  temporalRank: SIDE_DEFAULTS.temporalRank,
  spatialRank: SIDE_DEFAULTS.spatialRank,
  flip: false,
  sampling: DEFAULT_SAMPLING,
  stride: DEFAULT_STRIDE,
  scale: DEFAULT_CROP_SCALE,
  ratio: DEFAULT_CROP_RATIO,
  valViews: DEFAULT_VIEWS,
  valCrops: DEFAULT_CROPS,
  workers: DEFAULT_WORKERS,
} satisfies Omit<TrainOptions, 'data' | 'out'>;

/** With cache 'auto', the cache is used when the data set's features take at most this many bytes. */
export const AUTO_CACHE_BYTES = 8 * 2 ** 30;

/** The default feature cache folder: $LOSA_CACHE_DIR, else $XDG_CACHE_HOME/losa/features, else ~/.cache/losa/features. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOSA_CACHE_DIR) return env.LOSA_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'losa', 'features');
}
