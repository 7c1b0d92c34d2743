// The head shared by both side kinds, and the `linear` side kind (a linear probe).
//
//   logits = W · mean_{T,P}( LN(x) ) + bias
//
// where x is b_L + s_L for LoSA and b_L alone for the probe. Both run this same code on the same
// layout, so at initialisation (s_L = 0 exactly) their logits agree to the last bit.
import { tf } from './tf.js';
import type { SideConfig } from './config.js';
import { layerNorm, layerNormForward, linear, linearForward } from './ops.js';

export type ParamLookup = (name: string) => tf.Tensor;

/**
 * Logits [B, K] from x [B·T·P, D] (the channel layout, input.ts). With `taped` the LayerNorm
 * and the linear layer carry hand-written gradients for autodiff; without, they are plain ops.
 */
export function head(x: tf.Tensor2D, param: ParamLookup, config: SideConfig, batch: number, taped: boolean): tf.Tensor2D {
  const { numFrames: T, tokens: P, width: D } = config;
  const gamma = param('norm.weight') as tf.Tensor1D, beta = param('norm.bias') as tf.Tensor1D;
  const y = taped ? layerNorm(x, gamma, beta, config.layerNormEps) : layerNormForward(x, gamma, beta, config.layerNormEps).y; // [B·T·P, D]
  const pooled = tf.mean(tf.reshape(y, [batch, T * P, D]), 1) as tf.Tensor2D; // [B, D]
  const weight = param('head.weight') as tf.Tensor2D, bias = param('head.bias') as tf.Tensor1D;
  return taped ? linear(pooled, weight, bias) : linearForward(pooled, weight, bias); // [B, K]
}
