import os from 'node:os';
import path from 'node:path';

// Training settings, with their defaults. The defaults are what `losa train --data video/demo
// --out models/demo` uses, chosen so that the demo learns the synthetic direction classes on a
// seeded random ViT-Ti in a few minutes on two CPU cores.

export interface TrainOptions {
  /** Data set source: a folder ROOT/<split>/<class>/…, a Kinetics CSV or a list file. */
  data: string;
  /** Validation source when it is not the same folder/CSV's `val` split. */
  valData?: string;
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
  device: 'cpu' | 'cuda';
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
  resume: boolean;
  side: 'losa' | 'linear';
  rank: number;
  temporalRank: number;
  spatialRank: number;
  flip: boolean;
  sampling: 'segment' | 'window';
  /** Frame stride of window sampling (train) and of test views. */
  stride: number | 'auto';
  scale: [number, number];
  ratio: [number, number];
  valViews: number;
  valCrops: 1 | 3;
  /** Concurrent decoders. */
  workers: number;
  /** tfjs backend preference. */
  tfBackend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
}

export const TRAIN_DEFAULTS: Omit<TrainOptions, 'data' | 'out'> = {
  trainSplit: 'train',
  valSplit: 'val',
  backbone: 'vit-ti16',
  pool: 'grid:2',
  layers: 'all',
  device: 'cpu',
  backboneSeed: 0,
  epochs: 30,
  batchSize: 8,
  accumulate: 1,
  numFrames: 8,
  lr: 3e-3,
  weightDecay: 0.05,
  warmupEpochs: 1,
  labelSmoothing: 0.1,
  seed: 0,
  cache: 'auto',
  cacheViews: 2,
  cacheDtype: 'F32',
  resume: false,
  side: 'losa',
  rank: 16,
  temporalRank: 4,
  spatialRank: 4,
  flip: false,
  sampling: 'segment',
  stride: 'auto',
  // Mild crops: the motion classes of small data sets (and of the demo's random backbone) suffer
  // from strong ones (measured: val top-1 0.97 with [0.7, 1], 0.66 with [0.5, 1]).
  scale: [0.7, 1],
  ratio: [3 / 4, 4 / 3],
  valViews: 1,
  valCrops: 1,
  workers: 2,
  tfBackend: 'auto',
};

/** With cache 'auto', the cache is used when the data set's features take at most this many bytes. */
export const AUTO_CACHE_BYTES = 8 * 2 ** 30;

/** The default feature cache folder: $LOSA_CACHE_DIR, else $XDG_CACHE_HOME/losa/features, else ~/.cache/losa/features. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOSA_CACHE_DIR) return env.LOSA_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'losa', 'features');
}
