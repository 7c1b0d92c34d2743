// Backbone features [B, T, L, P, D] → one tensor per tapped layer, in the channel layout CL:
// [B, T, P, D] viewed as a matrix [B·T·P, D] (rows (clip, frame, token), one column per
// channel; losa.ts reaches the other axes from there). The split into layers is a plain
// JavaScript copy on the host: tfjs wasm's Slice and Unpack copy their WHOLE input once per
// output, and its 5-D transpose is ~70× slower than a 4-D one, so per-layer slicing in tfjs
// would cost more than the side network's own arithmetic.
import { tf } from './tf.js';
import { LosaError } from '../errors.js';
import type { SideConfig } from './config.js';

/** Features for the side network: a tensor [B, T, L, P, D], or its float32 data (batch first). */
export type SideFeatures = tf.Tensor | Float32Array;

/** The batch size of `features`, after checking its shape against the config (one-line error). */
export function featureBatchSize(features: SideFeatures, config: SideConfig): number {
  const { numFrames: T, numLayers: L, tokens: P, width: D } = config;
  const perClip = T * L * P * D;
  if (features instanceof Float32Array) {
    if (features.length === 0 || features.length % perClip !== 0) {
      throw new LosaError(`side network expects features of B × ${T}·${L}·${P}·${D} floats (B, T, L, P, D), got ${features.length}`);
    }
    return features.length / perClip;
  }
  const s = features.shape;
  const want = [T, L, P, D];
  if (s.length !== 5 || s[0]! < 1 || want.some((v, i) => s[i + 1] !== v)) {
    throw new LosaError(`side network expects features [B, ${want.join(', ')}] (B, T, L, P, D), got [${s.join(', ')}]`);
  }
  if (features.dtype !== 'float32') throw new LosaError(`side network expects float32 features, got ${features.dtype}`);
  return s[0]!;
}

/**
 * Layers `first..L−1` of the features, each as a [B·T·P, D] tensor (the caller disposes them).
 * Must not run inside tf.tidy with a tensor input: it reads the data.
 */
export function sideLayers(features: SideFeatures, config: SideConfig, first = 0): { layers: tf.Tensor2D[]; batch: number } {
  const batch = featureBatchSize(features, config);
  const { numFrames: T, numLayers: L, tokens: P, width: D } = config;
  const src = features instanceof Float32Array ? features : (features.dataSync() as Float32Array);
  const rows = batch * T * P;
  const chunk = P * D; // one frame of one layer: contiguous in the source
  const layers: tf.Tensor2D[] = [];
  for (let l = first; l < L; l++) {
    const dst = new Float32Array(rows * D); // [B, T, P, D]
    for (let bt = 0; bt < batch * T; bt++) {
      const from = (bt * L + l) * chunk;
      dst.set(src.subarray(from, from + chunk), bt * chunk);
    }
    layers.push(tf.tensor2d(dst, [rows, D]));
  }
  return { layers, batch };
}
