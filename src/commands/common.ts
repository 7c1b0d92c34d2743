// Options several commands share, declared once so that a flag means the same thing in every
// command: the frozen backbone (--backbone, --weights, --image-size, --pool, --layers,
// --backbone-seed), where it runs (--device, --chunk), a trained run (--checkpoint, --last,
// --tf-backend), test views (--views, --crops), decoders (--workers) and --json. Defaults come
// from the modules that apply them; these imports stay light (no onnxruntime, no TensorFlow.js).
import path from 'node:path';
import { BACKBONE_PRESETS } from '../backbone/config.js';
import { DEFAULT_LAYERS, DEFAULT_POOL } from '../backbone/pooling.js';
import { expected } from '../errors.js';
import { DEFAULT_CACHE_MAX } from '../features/cache-folder.js';
import { DEFAULT_WORKERS } from '../features/pipeline.js';
import { formatBytes } from '../fsutil.js';
import { TRAIN_DEFAULTS } from '../train/options.js';
import {
  DEFAULT_CROP_SCALE, DEFAULT_CROPS, DEFAULT_NUM_FRAMES, DEFAULT_SAMPLING, DEFAULT_STRIDE, DEFAULT_VIEWS, type Stride,
} from '../video/sampling.js';
import { bytes, choice, custom, file, flag, int, text, type OptionDef, type OptionTable } from './options.js';

/** The same options under a help heading (train lists its many options in groups). */
export function grouped<T extends OptionTable>(group: string, table: T): T {
  return Object.fromEntries(Object.entries(table).map(([k, def]) => [k, { ...def, group }])) as T;
}

/** A preset name as it is, or a config file or model folder resolved against the working folder. */
export function backboneOption<O extends { help: string; default?: string; group?: string }>(o: O) {
  return custom({ value: 'NAME|FILE|FOLDER', ...o }, (t, ctx) => ((BACKBONE_PRESETS as readonly string[]).includes(t) ? t : path.resolve(ctx.cwd, t)));
}

/** --image-size: the frames' side, wherever it is set. */
export const IMAGE_SIZE_HELP = 'side of the square frames the backbone sees, in pixels';

/** The frozen backbone, as `losa train` and `losa features` build it. */
export const BACKBONE_OPTIONS = {
  weights: file({ value: 'FILE', help: 'safetensors weights (timm, Hugging Face or open_clip names; F32, F16, BF16; or a shard index)', defaultText: "the folder's, else seeded random weights" }),
  imageSize: int({ value: 'S', min: 16, max: 4096, help: `${IMAGE_SIZE_HELP}, instead of its config's (position embeddings are resampled)` }),
  pool: text({ value: 'MODE', help: 'tokens kept per frame: none | cls | mean | grid:G (the class token plus a G×G patch grid)', default: DEFAULT_POOL }),
  layers: text({ value: 'SPEC', help: 'tapped blocks: all | every:K | 3,6,9 (counted from 1)', default: DEFAULT_LAYERS }),
  backboneSeed: int({ value: 'N', help: 'seed of the random weights when no --weights is given', default: TRAIN_DEFAULTS.backboneSeed }),
} satisfies OptionTable;

/** Where the backbone runs. */
export const DEVICE_OPTIONS = {
  device: choice({ values: ['cpu', 'cuda'] as const, help: 'onnxruntime execution provider', defaultText: 'cpu' }),
  chunk: int({ value: 'C', min: 1, max: 65536, help: 'frames per backbone run', defaultText: 'what fits half the memory, at most 8' }),
} satisfies OptionTable;

/** A run written by `losa train`, for eval and classify. */
export const RUN_OPTIONS = {
  checkpoint: file({ value: 'RUN_DIR', help: 'a directory written by `losa train`', required: true }),
  last: flag({ help: 'use the last checkpoint instead of the best' }),
  weights: file({ value: 'FILE', help: 'the backbone weights, if they moved since training' }),
  ...DEVICE_OPTIONS,
  tfBackend: tfBackendOption(),
} satisfies OptionTable;

export function tfBackendOption(): OptionDef<'auto' | 'tensorflow' | 'wasm' | 'cpu' | undefined> {
  return choice({
    values: ['auto', 'tensorflow', 'wasm', 'cpu'] as const,
    help: 'TensorFlow.js backend of the side network; auto: $LOSA_TF_BACKEND, else tensorflow, wasm, cpu', defaultText: 'auto',
  });
}

/** V temporal clips × C spatial crops per video at test time. */
export const VIEW_OPTIONS = {
  views: int({ value: 'V', min: 1, help: 'temporal clips per video', default: DEFAULT_VIEWS }),
  crops: custom({ value: '1|3', help: 'spatial crops per clip: centre, or start/centre/end', default: DEFAULT_CROPS }, cropsValue),
} satisfies OptionTable;

/** ffmpeg processes at once: decoders, or the encoders of `losa data synth`. */
export const WORKERS_HELP = 'ffmpeg processes at once';
export const WORKERS_OPTION = {
  workers: int({ value: 'N', min: 1, max: 64, help: WORKERS_HELP, default: DEFAULT_WORKERS }),
} satisfies OptionTable;

/** The test-time sampling of `losa features` and `losa frames` (a run brings its own). */
export const SAMPLING_OPTIONS = {
  numFrames: int({ value: 'T', min: 1, max: 4096, help: 'frames per clip', default: DEFAULT_NUM_FRAMES }),
  stride: custom({
    value: 'N|auto', help: 'frames between samples of a training window and of test views; auto: T segments spanning the video', default: DEFAULT_STRIDE,
  }, strideValue),
} satisfies OptionTable;

/** How training draws its clip of a video (`losa train`, and `losa frames --mode train`). */
export const TRAINING_VIEW_OPTIONS = {
  sampling: choice({ values: ['segment', 'window'] as const, help: 'training: one random frame in each of T segments, or a window at --stride', default: DEFAULT_SAMPLING }),
  cropScale: custom({ value: 'MIN,MAX', help: "training: area range of the random resized crop", default: DEFAULT_CROP_SCALE }, cropScaleValue),
  flip: flag({ help: 'training: random horizontal flips (off by default: a flip changes the class of direction data)' }),
} satisfies OptionTable;

/** "0.5,1" → [0.5, 1]: a fraction range 0 < min ≤ max ≤ 1. */
export function cropScaleValue(t: string, ctx: { flag: string }): readonly [number, number] {
  const parts = t.split(',').map((p) => Number(p.trim()));
  const [lo, hi] = parts;
  if (parts.length !== 2 || !(lo! > 0 && lo! <= hi! && hi! <= 1)) throw expected(ctx.flag, 'MIN,MAX with 0 < MIN ≤ MAX ≤ 1', t);
  return [lo!, hi!];
}

export function cropsValue(t: string, ctx: { flag: string }): 1 | 3 {
  if (t !== '1' && t !== '3') throw expected(ctx.flag, '1 or 3', t);
  return Number(t) as 1 | 3;
}

export function strideValue(t: string, ctx: { flag: string }): Stride {
  if (t === 'auto') return 'auto';
  const n = Number(t);
  if (!/^\d+$/.test(t.trim()) || !Number.isSafeInteger(n) || n < 1) throw expected(ctx.flag, 'an integer ≥ 1 or auto', t);
  return n;
}

export const JSON_OPTION = { json: flag({ help: 'print JSON instead of text' }) } satisfies OptionTable;

// --- the options of a training run that decide its cache entries: `losa train` and `losa extract` ---

/** The data of a training run. */
export const TRAIN_DATA_OPTIONS = {
  data: file({ value: 'SRC', help: 'folder ROOT/<split>/<class>/<video>, Kinetics CSV, or list file', required: true }),
  valData: file({ value: 'SRC', help: 'validation source', defaultText: `the "${TRAIN_DEFAULTS.valSplit}" split of --data` }),
  noVal: flag({ help: 'train without validation (a validation source without videos is otherwise an error)' }),
  trainSplit: text({ value: 'NAME', help: 'training split', default: TRAIN_DEFAULTS.trainSplit }),
  valSplit: text({ value: 'NAME', help: 'validation split', default: TRAIN_DEFAULTS.valSplit }),
} satisfies OptionTable;

/** The frozen backbone of a training run. */
export const TRAIN_BACKBONE_OPTIONS = {
  backbone: backboneOption({ help: 'a preset (vit-ti16 … vit-e14, CLIP, DINOv2, SigLIP), a config JSON, or a model folder', default: TRAIN_DEFAULTS.backbone }),
  ...BACKBONE_OPTIONS,
} satisfies OptionTable;

/** How a training run samples its clips: training views, and validation's test views. */
export const TRAIN_SAMPLING_OPTIONS = {
  ...SAMPLING_OPTIONS,
  ...TRAINING_VIEW_OPTIONS,
  valViews: int({ value: 'V', min: 1, help: 'temporal views per validation video', default: TRAIN_DEFAULTS.valViews }),
  valCrops: custom({ value: '1|3', help: 'spatial crops per validation view', default: TRAIN_DEFAULTS.valCrops }, cropsValue),
} satisfies OptionTable;

/** The seed of a run's random choices (its training views' among them). */
export const RUN_SEED_OPTION = {
  seed: int({ value: 'N', help: 'seed of every random choice of the run (shuffling, sampling, crops, initialisation)', default: TRAIN_DEFAULTS.seed }),
} satisfies OptionTable;

/** Which views the cache holds, and how. */
export const CACHE_VIEW_OPTIONS = {
  cacheViews: int({ value: 'N', min: 1, help: 'augmented views per video kept in the cache (epoch e uses view e mod N)', default: TRAIN_DEFAULTS.cacheViews }),
  cacheDtype: choice({
    values: ['f32', 'f16'] as const, help: 'cache storage type (f16: half the disk)', default: TRAIN_DEFAULTS.cacheDtype.toLowerCase() as 'f32' | 'f16',
  }),
  cacheMax: bytes({
    value: 'SIZE', help: 'the most the cache folder may hold, least recently used entries evicted first; remembered by the folder',
    defaultText: `the folder's, else ${formatBytes(DEFAULT_CACHE_MAX)}`,
  }),
} satisfies OptionTable;
