// Backbone features [B, T, L, P, D] → one tensor per tapped layer, in the channel layout CL:
// [B, T, P, D] viewed as a matrix [B·T·P, D] (rows (clip, frame, token), one column per
// channel; losa.ts reaches the other axes from there). The split into layers is a plain
// JavaScript copy on the host: tfjs wasm's Slice and Unpack copy their WHOLE input once per
// output, and its 5-D transpose is ~70× slower than a 4-D one, so per-layer slicing in tfjs
// would cost more than the side network's own arithmetic.
import { tf } from './tf.js';
import { LosaError } from '../errors.js';
import type { SideConfig } from './config.js';

/**
 * Features for the side network: a tensor [B, T, L, P, D], or its float32 data (batch first), in
 * one array or in several read in order (a batch's clips where they lie, none copied to join them).
 */
export type SideFeatures = tf.Tensor | Float32Array | readonly Float32Array[];

/** The batch size of `features`, after checking its shape against the config (one-line error). */
export function featureBatchSize(features: SideFeatures, config: SideConfig): number {
  const { numFrames: T, numLayers: L, tokens: P, width: D } = config;
  const perClip = T * L * P * D;
  const parts = dataParts(features);
  if (parts !== undefined) {
    const bad = parts.find((a) => a.length === 0 || a.length % perClip !== 0);
    if (parts.length === 0 || bad !== undefined) {
      throw new LosaError(`side network expects features of B × ${T}·${L}·${P}·${D} floats (B, T, L, P, D), got ${bad?.length ?? 0}`);
    }
    return parts.reduce((n, a) => n + a.length / perClip, 0);
  }
  const s = (features as tf.Tensor).shape;
  const want = [T, L, P, D];
  if (s.length !== 5 || s[0]! < 1 || want.some((v, i) => s[i + 1] !== v)) {
    throw new LosaError(`side network expects features [B, ${want.join(', ')}] (B, T, L, P, D), got [${s.join(', ')}]`);
  }
  const { dtype } = features as tf.Tensor;
  if (dtype !== 'float32') throw new LosaError(`side network expects float32 features, got ${dtype}`);
  return s[0]!;
}

/** The features' data, checked: one array or several, batch first (a tensor is read back). */
export function featureArrays(features: SideFeatures, config: SideConfig): readonly Float32Array[] {
  featureBatchSize(features, config);
  return dataParts(features) ?? [(features as tf.Tensor).dataSync() as Float32Array];
}

/**
 * The features, checked, and a maker of layer l's tensor [B·T·P, D] (a new one per call; the
 * caller disposes it). Layers are uploaded one at a time, as the side network reaches them, so
 * only the layer at work is a tensor: its blocks need a layer's features in their forward only.
 * Must not run inside tf.tidy with a tensor input: it reads the data.
 */
export function sideLayers(features: SideFeatures, config: SideConfig): { layer: (l: number) => tf.Tensor2D; batch: number } {
  const { numFrames: T, numLayers: L, tokens: P, width: D } = config;
  const sources = featureArrays(features, config);
  const batch = sources.reduce((n, a) => n + a.length, 0) / (T * L * P * D);
  const chunk = P * D; // one frame of one layer: contiguous in the source
  const layer = (l: number): tf.Tensor2D => {
    const dst = new Float32Array(batch * T * chunk); // [B, T, P, D]
    let bt = 0; // (clip, frame) rows written so far, over all sources
    for (const src of sources) {
      for (let i = 0; i < src.length / (L * chunk); i++, bt++) {
        const from = (i * L + l) * chunk;
        dst.set(src.subarray(from, from + chunk), bt * chunk);
      }
    }
    return tf.tensor2d(dst, [batch * T * P, D]);
  };
  return { layer, batch };
}

/** The arrays of a data form, in order; undefined for a tensor. */
function dataParts(features: SideFeatures): readonly Float32Array[] | undefined {
  if (features instanceof Float32Array) return [features];
  return Array.isArray(features) ? (features as readonly Float32Array[]) : undefined;
}
