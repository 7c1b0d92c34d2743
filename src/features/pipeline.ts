// Video files → batches of backbone features: what feeds the side network in training,
// validation, `eval`, `classify` and `losa features`. Features come from the cache when it has
// them. Otherwise frames flow decode → crop → backbone in chunks of at most the backbone's
// chunk size, never a whole clip at once (video/stream.ts): each chunk's features land at
// their (clip, t) place in the item's features as they come, and the next chunks decode while
// the backbone works (ahead.ts). Memory so follows the chunk, the decoders and the batch, not
// the clips' length; with `store`, an item's features go to a file as they are computed
// (`losa features`), so not even they are held whole. Batches keep the input order; an item
// that could not be read is reported as soon as it fails, which may be before the batch that
// was filling up around it (a broken file never cuts a batch short).
import { performance } from 'node:perf_hooks';
import type { Backbone } from '../backbone/index.js';
import { LosaError, errorMessage } from '../errors.js';
import { collectChunkGarbage } from '../gc.js';
import { createRng } from '../random.js';
import { openClips, prefetch, type ClipOptions, type FrameChunk, type PrefetchResult } from '../video/index.js';
import { chunksAhead } from './ahead.js';
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
  /**
   * Per item, its features [V, T, L, P, D] float32: V views (temporal clips × crops). Not one
   * [B, …] array: the side network reads them where they are (side/input.ts), so a batch is
   * never copied (for ViT-B/16 a batch of 8 is 11 MiB). Empty arrays when they went to a store.
   */
  clips: Float32Array[];
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

/** Where an item's features go as they are computed, when not to memory (`PipelineOptions.store`). */
export interface FeatureStore {
  /** Features [n, L, P, D] of consecutive frames, starting at flat index `at` of the item's [V, T, L, P, D]. */
  write(at: number, values: Float32Array): Promise<void>;
}

export interface PipelineOptions<I extends PipelineItem> {
  backbone: Backbone;
  batchSize: number;
  /** Items decoding at once, each a chunk ahead (default DEFAULT_WORKERS). */
  concurrency?: number;
  /** Items opened (probed, looked up in the cache) ahead of the consumer (default batchSize). */
  prefetch?: number;
  cache?: FeatureCache;
  plan(item: I): ViewPlan;
  /**
   * An item's features go here as they are computed instead of into its batch (whose
   * `clips` are then empty); called once per computed item, when its clips are laid out.
   * Not with `cache`, which stores whole entries.
   */
  store?(item: I, shape: number[], source: ClipSource): Promise<FeatureStore>;
  signal?: AbortSignal;
}

/** An item ready to compute: its features from the cache, or a source of its frames in chunks. */
type Opened =
  | { kind: 'features'; features: Float32Array; views: number; numFrames: number; openMs: number }
  | { kind: 'frames'; chunks(chunk: number): AsyncGenerator<FrameChunk>; views: number; numFrames: number; key: string | null; source?: ClipSource; openMs: number };

/** One item's features, computed or read. */
interface ItemFeatures<I> {
  item: I;
  /** [V, T, L, P, D], or empty when they went to a store. */
  features: Float32Array;
  views: number;
  numFrames: number;
  source?: ClipSource;
  cached: boolean;
  decodeMs: number;
  backboneMs: number;
}

/** The feature size T·L·P·D of one clip of a backbone at T frames, in floats. */
export function clipFeatureSize(backbone: Pick<Backbone, 'layers' | 'tokens' | 'width'>, numFrames: number): number {
  return numFrames * backbone.layers.length * backbone.tokens * backbone.width;
}

export async function* featureBatches<I extends PipelineItem>(
  items: Iterable<I> | AsyncIterable<I>,
  options: PipelineOptions<I>,
): AsyncGenerator<FeatureBatch<I> | SkippedItem<I>> {
  if (options.store && options.cache) throw new LosaError('featureBatches: `store` and `cache` cannot be used together');
  const opened = prefetch(items, (item) => openItem(item, options), {
    concurrency: options.concurrency ?? DEFAULT_WORKERS,
    prefetch: options.prefetch ?? options.batchSize,
  });
  let pending: ItemFeatures<I>[] = [];
  for await (const result of computeItems(opened, options)) {
    if (options.signal?.aborted) return;
    if ('skipped' in result) {
      yield result;
      continue;
    }
    // A batch holds items of one shape: the same number of views and frames.
    const first = pending[0];
    if (first && (first.views !== result.views || first.numFrames !== result.numFrames)) yield toBatch(pending.splice(0));
    pending.push(result);
    if (pending.length >= options.batchSize) yield toBatch(pending.splice(0));
  }
  if (pending.length > 0 && !options.signal?.aborted) yield toBatch(pending);
}

/** The cache key of a file's view: what the pipeline looks up and writes (and `losa extract` plans). */
export function viewCacheKey(cache: FeatureCache, file: string, plan: ViewPlan): Promise<string> {
  return cache.key(file, { clip: plan.clip, seed: plan.seed });
}

/** One item's features from the cache, or its clips laid out (the file probed) to stream from. */
async function openItem<I extends PipelineItem>(item: I, options: PipelineOptions<I>): Promise<Opened> {
  const started = performance.now();
  const plan = options.plan(item);
  const T = plan.clip.numFrames;
  const S = plan.clip.size;
  if (item.frames) {
    if (item.frames.length !== T * S * S * 3) {
      throw new LosaError(`${item.path}: expected rgb24 frames of ${T}×${S}×${S}×3 bytes (T, S, S, 3), got ${item.frames.length} bytes`);
    }
    const frames = item.frames;
    return { kind: 'frames', chunks: (chunk) => chunksOfFrames(frames, T, S, chunk), views: 1, numFrames: T, key: null, openMs: 0 };
  }
  const { cache } = options;
  let key: string | null = null;
  if (cache) {
    key = await viewCacheKey(cache, item.path, plan);
    const hit = await cache.get(key);
    if (hit && hit.shape.length === 5 && hit.shape[1] === T && hit.data.length === hit.shape[0]! * clipFeatureSize(options.backbone, T)) {
      return { kind: 'features', features: hit.data, views: hit.shape[0]!, numFrames: T, openMs: performance.now() - started };
    }
  }
  // Frames are resized as the backbone's preprocessing says, as they are normalised with its mean and std.
  // A stop kills the decode in flight (the signal is not part of the plan, nor of the cache key).
  const clipOptions = { ...plan.clip, interpolation: options.backbone.config.interpolation, signal: options.signal };
  const stream = await openClips(item.path, clipOptions, createRng(plan.seed));
  const source: ClipSource = {
    indices: stream.clips.map((c) => c.indices), timestamps: stream.clips.map((c) => c.timestamps), fps: stream.info.fps, image: stream.info.image === true,
  };
  return { kind: 'frames', chunks: (chunk) => stream.chunks(chunk), views: stream.clips.length, numFrames: T, key, source, openMs: performance.now() - started };
}

/** A `frames` item's clip in chunks, as a stream gives them. */
async function* chunksOfFrames(frames: Uint8Array, T: number, S: number, chunk: number): AsyncGenerator<FrameChunk> {
  const frameBytes = S * S * 3;
  for (let first = 0; first < T; first += chunk) {
    const count = Math.min(chunk, T - first);
    const t = Int32Array.from({ length: count }, (_, j) => first + j);
    yield { frames: frames.subarray(first * frameBytes, (first + count) * frameBytes), count, clip: new Int32Array(count), t, release() {} };
  }
}

type Entry<I> = PrefetchResult<I, Opened>;

/** An item whose store failed: its remaining chunks are dropped. */
interface Failed<I> {
  item: I;
  failed: Error;
}

/** In-progress features of the item whose chunks are coming. */
interface Computing<I> {
  done: ItemFeatures<I>;
  store: FeatureStore;
}

/**
 * Every item's features, in input order: cache hits as read, the others computed a chunk at a
 * time as their frames decode (cached when done), or the item skipped with the reason.
 */
async function* computeItems<I extends PipelineItem>(
  opened: AsyncIterable<Entry<I>>, options: PipelineOptions<I>,
): AsyncGenerator<ItemFeatures<I> | SkippedItem<I>> {
  const { backbone } = options;
  const open = (e: Entry<I>) => (e.value?.kind === 'frames' ? e.value.chunks(backbone.chunk) : null);
  let current: Computing<I> | Failed<I> | undefined;
  let waitFrom = performance.now();
  for await (const event of chunksAhead(opened, open, options.concurrency ?? DEFAULT_WORKERS)) {
    const { item, value, error } = event.entry;
    // Time waiting for a chunk is decoding that did not hide behind the backbone.
    const waited = performance.now() - waitFrom;
    let result: ItemFeatures<I> | SkippedItem<I> | undefined;
    if (event.kind === 'ready') {
      if (error || !value) result = { skipped: item, reason: errorMessage(error ?? 'no frames') };
      else if (value.kind === 'features') {
        result = { item, features: value.features, views: value.views, numFrames: value.numFrames, cached: true, decodeMs: value.openMs, backboneMs: 0 };
      }
    } else if (event.kind === 'error') {
      current = undefined;
      result = { skipped: item, reason: errorMessage(event.error) };
    } else if (value?.kind === 'frames') {
      // A store that cannot be made or written (the output's disk is full) fails this item only.
      current ??= await startItem(item, value, options).catch((e: unknown) => ({ item, failed: errorOf(e) }));
      if ('done' in current) current.done.decodeMs += waited;
      if (event.kind === 'chunk') {
        if ('done' in current) current = await computeChunk(backbone, event.chunk, current);
        else event.chunk.release();
      } else {
        result = await finishItem(current, value.key, options);
        current = undefined;
      }
    }
    if (result) yield result;
    waitFrom = performance.now();
  }
}

/** A computed item, cached; or skipped, when its store failed. */
async function finishItem<I extends PipelineItem>(computed: Computing<I> | Failed<I>, key: string | null, options: PipelineOptions<I>): Promise<ItemFeatures<I> | SkippedItem<I>> {
  if (!('done' in computed)) return { skipped: computed.item, reason: errorMessage(computed.failed) };
  const { done } = computed;
  if (key && options.cache?.writable) {
    // A write that fails turns the cache's writing off (it warns once) and the run goes on.
    await options.cache.put(key, { shape: [done.views, done.numFrames, ...featureShape(options.backbone)], data: done.features }, { path: done.item.path });
  }
  return done;
}

function errorOf(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** [L, P, D] of one frame's features. */
function featureShape(backbone: Backbone): number[] {
  return [backbone.layers.length, backbone.tokens, backbone.width];
}

/** An item about to be computed: its features in memory, or in the caller's store. */
async function startItem<I extends PipelineItem>(item: I, opened: Extract<Opened, { kind: 'frames' }>, options: PipelineOptions<I>): Promise<Computing<I>> {
  const { views, numFrames, source } = opened;
  const shape = [views, numFrames, ...featureShape(options.backbone)];
  const done: ItemFeatures<I> = { item, features: new Float32Array(0), views, numFrames, source, cached: false, decodeMs: opened.openMs, backboneMs: 0 };
  if (options.store) return { done, store: await options.store(item, shape, source ?? { indices: [], timestamps: [], fps: 0, image: false }) };
  done.features = new Float32Array(views * clipFeatureSize(options.backbone, numFrames)); // [V, T, L, P, D]
  return { done, store: { write: async (at, values) => void done.features.set(values, at) } };
}

/** One chunk through the backbone; each frame's features land at (clip, t) of its item (or the store's failure). */
async function computeChunk<I>(backbone: Backbone, chunk: FrameChunk, into: Computing<I>): Promise<Computing<I> | Failed<I>> {
  const started = performance.now();
  const out = await backbone.forward(chunk.frames, chunk.count); // [n, L, P, D]
  chunk.release();
  collectChunkGarbage(); // the pipe reads and messages behind this chunk (see gc.ts)
  into.done.backboneMs += performance.now() - started;
  const perFrame = out.length / chunk.count;
  const T = into.done.numFrames;
  // Runs of consecutive (clip, t) go in one write (a chunk of one clip is one run).
  try {
    for (let j = 0; j < chunk.count; ) {
      let k = j + 1;
      while (k < chunk.count && chunk.clip[k] === chunk.clip[j] && chunk.t[k] === chunk.t[k - 1]! + 1) k++;
      await into.store.write((chunk.clip[j]! * T + chunk.t[j]!) * perFrame, out.subarray(j * perFrame, k * perFrame));
      j = k;
    }
  } catch (error) {
    return { item: into.done.item, failed: errorOf(error) };
  }
  return into;
}

/** Items of one shape as a batch. */
function toBatch<I extends PipelineItem>(items: ItemFeatures<I>[]): FeatureBatch<I> {
  const { views, numFrames } = items[0]!;
  return {
    items: items.map((it) => it.item),
    clips: items.map((it) => it.features),
    views,
    numFrames,
    sources: items.map((it) => it.source),
    cached: items.filter((it) => it.cached).length,
    decodeMs: items.reduce((s, it) => s + it.decodeMs, 0),
    backboneMs: items.reduce((s, it) => s + it.backboneMs, 0),
  };
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
