// Video files → batches of backbone features: what feeds the side network in training,
// validation, `eval`, `classify` and `losa features`. Clips are decoded ahead by a bounded pool
// while the backbone works on the previous batch (decoding hides behind compute, and memory is
// bounded by `prefetch`, not by the data set). Features come from the cache when it has them;
// the backbone runs once per batch over the rgb24 frames of every cache miss (it normalises
// them itself), in runs of at most its chunk size. Batches keep the input order; an item that
// could not be read is reported when its load fails, which may be before the batch that was
// filling up around it (a broken file never cuts a batch short).
import { performance } from 'node:perf_hooks';
import type { Backbone } from '../backbone/index.js';
import { LosaError, errorMessage } from '../errors.js';
import { createRng } from '../random.js';
import { loadClips, prefetch, type ClipOptions } from '../video/index.js';
import type { FeatureCache } from './cache.js';

/** Concurrent decoders (ffmpeg processes) when the caller does not say. */
export const DEFAULT_WORKERS = 2;

export interface PipelineItem {
  /** The file to decode; for a `frames` item, the name it goes by. */
  path: string;
  /** Class index, or -1 when unknown (classify). */
  label: number;
  /** An already decoded clip, rgb24 [T, S, S, 3] at the plan's T and S, instead of a file. */
  frames?: Uint8Array;
}

/** How one item is sampled: the clip options and the seed of its random choices. */
export interface ViewPlan {
  clip: ClipOptions;
  /** Seed of the sampling and crop choices; with the cache, part of the key. */
  seed: string;
}

/** Where each view of a decoded item came from (absent for cache hits and `frames` items). */
export interface ClipSource {
  indices: number[][];
  timestamps: number[][];
  fps: number;
  image: boolean;
}

export interface FeatureBatch<I extends PipelineItem> {
  items: I[];
  /** [B, V, T, L, P, D] float32: V views (temporal clips × crops) per item. */
  features: Float32Array;
  views: number;
  numFrames: number;
  /** Per item, the frames its views were made of, when it was decoded. */
  sources: (ClipSource | undefined)[];
  /** How many items of the batch came from the cache. */
  cached: number;
  /** Wall milliseconds spent on this batch, summed over its items. */
  decodeMs: number;
  backboneMs: number;
}

/** An item that could not be read (a broken or missing file): the others go on. */
export interface SkippedItem<I extends PipelineItem> {
  skipped: I;
  reason: string;
}

export interface PipelineOptions<I extends PipelineItem> {
  backbone: Backbone;
  batchSize: number;
  /** Concurrent decoders (default DEFAULT_WORKERS). */
  concurrency?: number;
  /** Decoded clips held ahead of the consumer (default batchSize: the next batch decodes while this one computes). */
  prefetch?: number;
  cache?: FeatureCache;
  plan(item: I): ViewPlan;
  signal?: AbortSignal;
}

type Loaded =
  | { kind: 'features'; features: Float32Array; views: number; numFrames: number; decodeMs: number }
  // Decoded clips wait as rgb24 bytes (a quarter of float32) until their batch runs.
  | { kind: 'frames'; clips: Uint8Array[]; views: number; numFrames: number; key: string | null; source?: ClipSource; decodeMs: number };

/** The feature size T·L·P·D of one clip of a backbone at T frames, in floats. */
export function clipFeatureSize(backbone: Pick<Backbone, 'layers' | 'tokens' | 'width'>, numFrames: number): number {
  return numFrames * backbone.layers.length * backbone.tokens * backbone.width;
}

export async function* featureBatches<I extends PipelineItem>(
  items: Iterable<I> | AsyncIterable<I>,
  options: PipelineOptions<I>,
): AsyncGenerator<FeatureBatch<I> | SkippedItem<I>> {
  const stream = prefetch(items, (item) => loadItem(item, options), {
    concurrency: options.concurrency ?? DEFAULT_WORKERS,
    prefetch: options.prefetch ?? options.batchSize,
  });
  let pending: { item: I; loaded: Loaded }[] = [];
  const flush = async (): Promise<FeatureBatch<I>> => {
    const batch = pending;
    pending = [];
    return computeBatch(batch, options);
  };
  for await (const result of stream) {
    if (options.signal?.aborted) return;
    if (result.error || !result.value) {
      yield { skipped: result.item, reason: errorMessage(result.error ?? 'no frames') };
      continue;
    }
    const loaded = result.value;
    // A batch holds items of one shape: the same number of views and frames.
    const first = pending[0]?.loaded;
    if (first && (first.views !== loaded.views || first.numFrames !== loaded.numFrames)) yield await flush();
    pending.push({ item: result.item, loaded });
    if (pending.length >= options.batchSize) yield await flush();
  }
  if (pending.length > 0 && !options.signal?.aborted) yield await flush();
}

/** The cache key of a file's view: what the pipeline looks up and writes (and `losa extract` plans). */
export function viewCacheKey(cache: FeatureCache, file: string, plan: ViewPlan): Promise<string> {
  return cache.key(file, { clip: plan.clip, seed: plan.seed });
}

/** One item's features from the cache, or its decoded clips (a `frames` item's own clip). */
async function loadItem<I extends PipelineItem>(item: I, options: PipelineOptions<I>): Promise<Loaded> {
  const started = performance.now();
  const plan = options.plan(item);
  const T = plan.clip.numFrames;
  const S = plan.clip.size;
  if (item.frames) {
    if (item.frames.length !== T * S * S * 3) {
      throw new LosaError(`${item.path}: expected rgb24 frames of ${T}×${S}×${S}×3 bytes (T, S, S, 3), got ${item.frames.length} bytes`);
    }
    return { kind: 'frames', clips: [item.frames], views: 1, numFrames: T, key: null, decodeMs: 0 };
  }
  const { cache } = options;
  let key: string | null = null;
  if (cache) {
    key = await viewCacheKey(cache, item.path, plan);
    const hit = await cache.get(key);
    if (hit && hit.shape.length === 5 && hit.shape[1] === T && hit.data.length === hit.shape[0]! * clipFeatureSize(options.backbone, T)) {
      return { kind: 'features', features: hit.data, views: hit.shape[0]!, numFrames: T, decodeMs: performance.now() - started };
    }
  }
  // Frames are resized as the backbone's preprocessing says, as they are normalised with its mean and std.
  // A stop kills the decode in flight (the signal is not part of the plan, nor of the cache key).
  const clipOptions = { ...plan.clip, interpolation: options.backbone.config.interpolation, signal: options.signal };
  const { info, clips } = await loadClips(item.path, clipOptions, createRng(plan.seed));
  const source: ClipSource = {
    indices: clips.map((c) => c.indices), timestamps: clips.map((c) => c.timestamps), fps: info.fps, image: info.image === true,
  };
  return { kind: 'frames', clips: clips.map((c) => c.frames), views: clips.length, numFrames: T, key, source, decodeMs: performance.now() - started };
}

/** The batch's features [B, V, T, L, P, D]: cache hits copied in, misses run through the backbone (and cached). */
async function computeBatch<I extends PipelineItem>(batch: { item: I; loaded: Loaded }[], options: PipelineOptions<I>): Promise<FeatureBatch<I>> {
  const { backbone, cache } = options;
  const { views, numFrames } = batch[0]!.loaded;
  const perClip = clipFeatureSize(backbone, numFrames);
  const features = new Float32Array(batch.length * views * perClip); // [B, V, T, L, P, D]
  const misses: { at: number; loaded: Extract<Loaded, { kind: 'frames' }> }[] = [];
  batch.forEach(({ loaded }, i) => {
    if (loaded.kind === 'features') features.set(loaded.features, i * views * perClip);
    else misses.push({ at: i, loaded });
  });
  const started = performance.now();
  if (misses.length > 0) {
    const clips = misses.flatMap((m) => m.loaded.clips.map((frames, v) => ({ frames, at: (m.at * views + v) * perClip })));
    await runBackbone(backbone, clips, numFrames, features);
  }
  const backboneMs = performance.now() - started;
  if (cache?.writable) {
    const shape = [views, numFrames, backbone.layers.length, backbone.tokens, backbone.width];
    for (const m of misses) {
      if (!m.loaded.key) continue;
      const data = features.slice(m.at * views * perClip, (m.at + 1) * views * perClip);
      // A write that fails turns the cache's writing off (it warns once) and the batch goes on.
      await cache.put(m.loaded.key, { shape, data }, { path: batch[m.at]!.item.path });
    }
  }
  return {
    items: batch.map((b) => b.item),
    features,
    views,
    numFrames,
    sources: batch.map((b) => (b.loaded.kind === 'frames' ? b.loaded.source : undefined)),
    cached: batch.length - misses.length,
    decodeMs: batch.reduce((s, b) => s + b.loaded.decodeMs, 0),
    backboneMs,
  };
}

/**
 * Every clip through the backbone, each landing at its offset in `features`. Clips go a run at
 * a time as rgb24 bytes (the backbone normalises them itself), so no float copy of the batch
 * exists whole: memory follows the chunk size, not the batch size.
 */
async function runBackbone(backbone: Backbone, clips: { frames: Uint8Array; at: number }[], numFrames: number, features: Float32Array): Promise<void> {
  const perClip = clipFeatureSize(backbone, numFrames);
  const clipBytes = clips[0]!.frames.length;
  const perCall = Math.max(1, Math.floor(backbone.chunk / numFrames));
  for (let first = 0; first < clips.length; first += perCall) {
    const group = clips.slice(first, first + perCall);
    const input = group.length === 1 ? group[0]!.frames : new Uint8Array(group.length * clipBytes); // [G·T, S, S, 3]
    if (group.length > 1) group.forEach((c, g) => input.set(c.frames, g * clipBytes));
    const out = await backbone.forward(input, group.length * numFrames); // [G·T, L, P, D]
    group.forEach((c, g) => features.set(out.subarray(g * perClip, (g + 1) * perClip), c.at));
  }
}

/**
 * `fn` over items, as they come: an array stays an array (its length is known, for progress),
 * any other iterable becomes an async one drawn lazily.
 */
export function mapItems<T, U>(items: Iterable<T> | AsyncIterable<T>, fn: (item: T, index: number) => U): U[] | AsyncGenerator<U> {
  if (Array.isArray(items)) return items.map((item: T, index: number) => fn(item, index));
  return (async function* () {
    let index = 0;
    for await (const item of items) yield fn(item, index++);
  })();
}

/** Whether a pipeline result is a skipped item (else it is a batch). */
export function isSkipped<I extends PipelineItem>(result: FeatureBatch<I> | SkippedItem<I>): result is SkippedItem<I> {
  return 'skipped' in result;
}
