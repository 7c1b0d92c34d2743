// Multi-view prediction with a side network: every item is sampled as V temporal clips × C
// spatial crops (test mode), each view goes through the backbone and the side network, and the
// item's prediction is the mean of the views' softmax. Validation during training, the model
// object (and so `eval` and `classify`) all predict through here.
import type { Backbone } from '../backbone/index.js';
import { featureBatches, isSkipped, mapItems, type FeatureCache, type PipelineItem, type ViewPlan } from '../features/index.js';
import type { SideNetwork } from '../side/index.js';
import { ClassificationTally, meanSoftmax } from './metrics.js';

/** A backbone and a side network, with how they see a clip at test time. */
export interface Predictor {
  backbone: Backbone;
  net: SideNetwork;
  plan: ViewPlan;
  /** Items per batch (one side-network call each). */
  batchSize: number;
  /** Concurrent decoders. */
  workers?: number;
  cache?: FeatureCache;
}

export interface PredictProgress {
  /** Called as items finish (predicted or failed); `total` when the inputs were an array. */
  onProgress?(done: number, total: number | undefined): void;
  signal?: AbortSignal;
}

export interface ItemPrediction<I> {
  item: I;
  /** Mean softmax over the item's views, one entry per class. */
  probabilities: Float64Array;
  views: number;
  error?: undefined;
}

export interface ItemFailure<I> {
  item: I;
  /** One line naming the file and what is wrong with it. */
  error: string;
  probabilities?: undefined;
}

/** Logits [N, K] of features [N, T, L, P, D], read back outside tf.tidy (reading inside is slow). */
export function sideLogits(net: SideNetwork, features: Float32Array | readonly Float32Array[], n: number): Float32Array {
  const { numFrames, numLayers, tokens, width } = net.config;
  const values = features instanceof Float32Array ? features.length : features.reduce((s, a) => s + a.length, 0);
  if (values !== n * numFrames * numLayers * tokens * width) throw new RangeError(`sideLogits: ${values} values for ${n} clips`);
  // The side network takes the float32 data as it is (no upload and download of a 5-D tensor).
  const logits = net.apply(features); // [N, K]
  try {
    return logits.dataSync() as Float32Array;
  } finally {
    logits.dispose();
  }
}

/** Per item, in input order: its mean softmax over views, or why it could not be read. */
export async function* predictItems<I extends PipelineItem>(
  predictor: Predictor,
  items: Iterable<I> | AsyncIterable<I>,
  progress: PredictProgress = {},
): AsyncGenerator<ItemPrediction<I> | ItemFailure<I>> {
  const K = predictor.net.config.numClasses;
  const total = Array.isArray(items) ? items.length : undefined;
  const numbered = mapItems(items, (item, seq): Numbered<I> => ({ path: item.path, label: item.label, frames: item.frames, item, seq }));
  const batches = featureBatches(numbered, {
    backbone: predictor.backbone, batchSize: predictor.batchSize, concurrency: predictor.workers, cache: predictor.cache,
    plan: () => predictor.plan, signal: progress.signal,
  });
  // A failure can overtake the batch that was filling up around it: results wait here until
  // every earlier one is out (the failures behind one unfinished batch, at most).
  const ready = new Map<number, ItemPrediction<I> | ItemFailure<I>>();
  let next = 0;
  for await (const batch of batches) {
    if (isSkipped(batch)) ready.set(batch.skipped.seq, { item: batch.skipped.item, error: batch.reason });
    else {
      const logits = sideLogits(predictor.net, batch.clips, batch.items.length * batch.views); // [B·V, K]
      batch.items.forEach(({ item, seq }, i) => {
        const rows = logits.subarray(i * batch.views * K, (i + 1) * batch.views * K);
        ready.set(seq, { item, probabilities: meanSoftmax(rows, batch.views, K), views: batch.views });
      });
    }
    for (let r = ready.get(next); r !== undefined; r = ready.get(next)) {
      ready.delete(next++);
      progress.onProgress?.(next, total);
      yield r;
    }
  }
}

/** An item with its place in the inputs. */
interface Numbered<I> extends PipelineItem {
  item: I;
  seq: number;
}

export interface Evaluation {
  count: number;
  loss: number;
  top1: number;
  top5: number;
  perClass: Record<string, number | null>;
  confusion: number[][];
}

/** Loss, top-1, top-5, per-class accuracy and confusion over labelled items; failures go to `onSkip`. */
export async function evaluate<I extends PipelineItem>(
  predictor: Predictor,
  items: readonly I[],
  classes: string[],
  options: PredictProgress & { onSkip?(item: I, reason: string): void } = {},
): Promise<Evaluation> {
  const tally = new ClassificationTally(classes);
  for await (const r of predictItems(predictor, items, options)) {
    if (r.error !== undefined) options.onSkip?.(r.item, r.error);
    else tally.add(r.item.label, r.probabilities);
  }
  return tally.summary();
}
