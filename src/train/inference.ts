// Multi-view prediction with a side network: every item is sampled as V temporal clips × C
// spatial crops (test mode), each view goes through the backbone and the side network, and the
// item's prediction is the mean of the views' softmax. Shared by validation, `eval` and `classify`.
import type { Backbone } from '../backbone/index.js';
import type { SideNetwork } from '../side/index.js';
import type { ClipOptions } from '../video/index.js';
import type { FeatureCache } from './cache.js';
import { ClassificationTally, meanSoftmax } from './metrics.js';
import { featureBatches, type PipelineItem } from './pipeline.js';

export interface PredictOptions<I extends PipelineItem> {
  backbone: Backbone;
  numFrames: number;
  batchSize: number;
  concurrency?: number;
  cache?: FeatureCache;
  /** Test-mode clip options (views, crops, stride). */
  clip: ClipOptions;
  /** Seed of the (deterministic) test sampling; part of the cache key. */
  seed: string;
  onSkip(item: I, reason: string): void;
  onProgress?(done: number, total: number): void;
  signal?: AbortSignal;
}

/** Logits [N, K] of features [N, T, L, P, D], read back outside tf.tidy (reading inside is slow). */
export function sideLogits(net: SideNetwork, features: Float32Array, n: number): Float32Array {
  const { numFrames, numLayers, tokens, width } = net.config;
  if (features.length !== n * numFrames * numLayers * tokens * width) throw new RangeError(`sideLogits: ${features.length} values for ${n} clips`);
  // The side network takes the float32 data as it is (no upload and download of a 5-D tensor).
  const logits = net.apply(features); // [N, K]
  try {
    return logits.dataSync() as Float32Array;
  } finally {
    logits.dispose();
  }
}

/** Per item, the mean softmax over its views, in input order (skipped items are left out). */
export async function* predictItems<I extends PipelineItem>(
  net: SideNetwork,
  items: readonly I[],
  options: PredictOptions<I>,
): AsyncGenerator<{ item: I; probabilities: Float64Array; views: number }> {
  const K = net.config.numClasses;
  let done = 0;
  const batches = featureBatches(items, {
    ...options,
    plan: () => ({ clip: options.clip, seed: options.seed }),
    onSkip: (item, reason) => {
      done++;
      options.onSkip(item, reason);
      options.onProgress?.(done, items.length);
    },
  });
  for await (const batch of batches) {
    const n = batch.items.length * batch.views;
    const logits = sideLogits(net, batch.features, n); // [B·V, K]
    for (let i = 0; i < batch.items.length; i++) {
      const rows = logits.subarray(i * batch.views * K, (i + 1) * batch.views * K);
      yield { item: batch.items[i]!, probabilities: meanSoftmax(rows, batch.views, K), views: batch.views };
    }
    done += batch.items.length;
    options.onProgress?.(done, items.length);
  }
}

/** Loss, top-1, top-5, per-class accuracy and confusion over labelled items. */
export async function evaluateFeatures<I extends PipelineItem>(
  net: SideNetwork,
  items: readonly I[],
  classes: string[],
  options: PredictOptions<I>,
): Promise<ReturnType<ClassificationTally['summary']>> {
  const tally = new ClassificationTally(classes);
  for await (const { item, probabilities } of predictItems(net, items, options)) tally.add(item.label, probabilities);
  return tally.summary();
}
