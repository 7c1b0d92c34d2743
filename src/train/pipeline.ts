// Video files → batches of backbone features, the part of train/eval/classify that feeds the
// side network. Clips are decoded ahead by a bounded pool while the backbone works on the
// previous batch (decoding hides behind compute, and memory is bounded by `prefetch`, not by
// the data set). Features come from the cache when it has them; the backbone runs once per
// batch over the frames of every cache miss, in chunks of at most its chunk size.
import { performance } from 'node:perf_hooks';
import type { Backbone } from '../backbone/index.js';
import { createRng } from '../random.js';
import { errorMessage } from '../errors.js';
import { loadClips, prefetch, type ClipOptions } from '../video/index.js';
import type { FeatureCache } from './cache.js';

export interface PipelineItem {
  path: string;
  /** Class index, or -1 when unknown (classify). */
  label: number;
}

/** How one item is sampled: the clip options and the seed of its random choices. */
export interface ViewPlan {
  clip: ClipOptions;
  /** Seed of the sampling and crop choices; with the cache, part of the key. */
  seed: string;
}

export interface FeatureBatch<I extends PipelineItem> {
  items: I[];
  /** [B, V, T, L, P, D] float32: V views (temporal clips × crops) per item. */
  features: Float32Array;
  views: number;
  /** How many items of the batch came from the cache. */
  cached: number;
  /** Wall milliseconds spent on this batch, summed over its items. */
  decodeMs: number;
  backboneMs: number;
}

export interface PipelineOptions<I extends PipelineItem> {
  backbone: Backbone;
  numFrames: number;
  batchSize: number;
  /** Concurrent decoders (default 2). */
  concurrency?: number;
  /** Decoded clips held ahead of the consumer (default batchSize: the next batch decodes while this one computes). */
  prefetch?: number;
  cache?: FeatureCache;
  plan(item: I): ViewPlan;
  onSkip(item: I, reason: string): void;
  signal?: AbortSignal;
}

type Loaded =
  | { kind: 'features'; features: Float32Array; views: number; decodeMs: number }
  // Decoded clips wait as rgb24 bytes (a quarter of float32) and are normalised into the batch.
  | { kind: 'frames'; clips: Uint8Array[]; size: number; views: number; key: string | null; decodeMs: number };

/** The per-clip feature size L·P·D of a backbone at T frames, in floats. */
export function clipFeatureSize(backbone: Backbone, numFrames: number): number {
  return numFrames * backbone.layers.length * backbone.tokens * backbone.width;
}

export async function* featureBatches<I extends PipelineItem>(
  items: readonly I[],
  options: PipelineOptions<I>,
): AsyncGenerator<FeatureBatch<I>> {
  const { backbone, numFrames, batchSize, cache } = options;
  const perClip = clipFeatureSize(backbone, numFrames);

  const load = async (item: I): Promise<Loaded> => {
    const started = performance.now();
    const plan = options.plan(item);
    let key: string | null = null;
    if (cache) {
      key = await cache.key(item.path, { clip: plan.clip, seed: plan.seed });
      const hit = await cache.get(key);
      if (hit && hit.data.length === hit.shape[0]! * perClip) {
        return { kind: 'features', features: hit.data, views: hit.shape[0]!, decodeMs: performance.now() - started };
      }
    }
    // Frames are resized as the backbone's preprocessing says, as they are normalised with its mean and std.
    const { clips } = await loadClips(item.path, { ...plan.clip, interpolation: backbone.config.interpolation }, createRng(plan.seed));
    return {
      kind: 'frames', clips: clips.map((c) => c.frames), size: plan.clip.size, views: clips.length, key, decodeMs: performance.now() - started,
    };
  };

  let pending: { item: I; loaded: Loaded }[] = [];
  const flush = async (): Promise<FeatureBatch<I>> => {
    const batch = pending;
    pending = [];
    const views = batch[0]!.loaded.views;
    const features = new Float32Array(batch.length * views * perClip); // [B, V, T, L, P, D]
    const misses = batch.flatMap((b, i) => (b.loaded.kind === 'frames' ? [{ i, loaded: b.loaded }] : []));
    let backboneMs = 0;
    if (misses.length > 0) {
      // Every clip of every miss, in order; each lands at its place in `features`.
      const clips = misses.flatMap((m) => m.loaded.clips.map((frames, v) => ({ frames, at: (m.i * views + v) * perClip })));
      const size = misses[0]!.loaded.size;
      const clipBytes = numFrames * size * size * 3;
      // Frames go to the backbone a chunk at a time as rgb24 bytes (it normalises them itself),
      // so no copy of the batch exists whole: memory follows the chunk size, not the batch size.
      const perCall = Math.max(1, Math.floor(backbone.chunk / numFrames));
      const started = performance.now();
      for (let first = 0; first < clips.length; first += perCall) {
        const group = clips.slice(first, first + perCall);
        const input = group.length === 1 ? group[0]!.frames : new Uint8Array(group.length * clipBytes); // [G·T, S, S, 3]
        if (group.length > 1) group.forEach((c, g) => input.set(c.frames, g * clipBytes));
        const out = await backbone.forward(input, group.length * numFrames); // [G·T, L, P, D]
        group.forEach((c, g) => features.set(out.subarray(g * perClip, (g + 1) * perClip), c.at));
      }
      backboneMs = performance.now() - started;
      if (cache) {
        const shape = [views, numFrames, backbone.layers.length, backbone.tokens, backbone.width];
        for (const m of misses) {
          if (!m.loaded.key) continue;
          const data = features.slice(m.i * views * perClip, (m.i + 1) * views * perClip);
          await cache.put(m.loaded.key, { shape, data }, { path: batch[m.i]!.item.path });
        }
      }
    }
    batch.forEach((b, i) => {
      if (b.loaded.kind === 'features') features.set(b.loaded.features, i * views * perClip);
    });
    return {
      items: batch.map((b) => b.item),
      features,
      views,
      cached: batch.length - misses.length,
      decodeMs: batch.reduce((s, b) => s + b.loaded.decodeMs, 0),
      backboneMs,
    };
  };

  const stream = prefetch(items, (item) => load(item), {
    concurrency: options.concurrency ?? 2,
    prefetch: options.prefetch ?? batchSize,
  });
  for await (const result of stream) {
    if (options.signal?.aborted) break;
    if (result.error || !result.value) {
      options.onSkip(result.item, errorMessage(result.error ?? 'no frames'));
      continue;
    }
    if (pending.length > 0 && pending[0]!.loaded.views !== result.value.views) yield await flush();
    pending.push({ item: result.item, loaded: result.value });
    if (pending.length >= batchSize) yield await flush();
  }
  if (pending.length > 0 && !options.signal?.aborted) yield await flush();
}
