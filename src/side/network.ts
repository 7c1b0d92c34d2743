// A side network instance: its tfjs variables (PyTorch names and layouts, see params.ts) and
// its forward pass.
import { tf } from './tf.js';
import { LosaError } from '../errors.js';
import { validateSideConfig, type SideConfig } from './config.js';
import { featureArrays, sideLayers, type SideFeatures } from './input.js';
import { hostLogits, usesHostKernels } from './host.js';
import { head, headLoss, type ParamLookup } from './linear.js';
import { losaState, losaTrainState } from './losa.js';
import { initialValues, sideDecayMask, sideParamSpecs } from './params.js';

export interface SideNetwork {
  config: SideConfig;
  /** Trainable tensors by PyTorch-style name, in a stable order (params.ts documents them). */
  variables: Map<string, tf.Variable>;
  /**
   * Logits [B, K] from features [B, T, L, P, D] float32, as a tensor or as its data (batch
   * first, in one array or several; the data forms skip one upload and download). The caller
   * disposes the result.
   * Must not be called inside tf.tidy with a tensor input (it reads the data back).
   */
  apply(features: SideFeatures): tf.Tensor2D;
  /** Trainable parameters (equals sideParamCount(config)). */
  paramCount(): number;
  /** True where weight decay applies: weight matrices, not LayerNorm parameters, not biases. */
  decayMask(name: string): boolean;
  dispose(): void;
}

/** A new side network with weights drawn from `seed` (same seed and config, same weights). */
export function createSideNetwork(config: SideConfig, seed: number): SideNetwork {
  validateSideConfig(config);
  const frozenConfig: SideConfig = { ...config };
  const variables = new Map<string, tf.Variable>();
  for (const spec of sideParamSpecs(frozenConfig)) {
    // tfjs variable names are global to the process, so let tfjs number them; ours are the keys.
    const variable = tf.tidy(() => tf.variable(tf.tensor(initialValues(spec, seed), spec.shape, 'float32'), true));
    variables.set(spec.name, variable);
  }
  const param = paramLookup(variables);
  let disposed = false;
  return {
    config: frozenConfig,
    variables,
    apply(features) {
      if (disposed) throw new LosaError('side network used after dispose()');
      return runSideNetwork(frozenConfig, param, features);
    },
    paramCount() {
      let n = 0;
      for (const v of variables.values()) n += v.size;
      return n;
    },
    decayMask: sideDecayMask,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const v of variables.values()) v.dispose();
    },
  };
}

/** The forward pass of apply(): logits [B, K], plain ops, nothing taped. */
export function runSideNetwork(config: SideConfig, param: ParamLookup, features: SideFeatures): tf.Tensor2D {
  if (usesHostKernels()) {
    const logits = hostLogits(config, { value: (name) => param(name).dataSync() as Float32Array }, featureArrays(features, config));
    return tf.tensor2d(logits, [logits.length / config.numClasses, config.numClasses]);
  }
  const { layer, batch } = sideLayers(features, config);
  return tf.tidy(() => {
    const s = config.kind === 'linear' ? undefined : losaState(layer, param, config, batch);
    const last = layer(config.numLayers - 1);
    return head(s === undefined ? last : (tf.add(last, s) as tf.Tensor2D), param, config, batch);
  });
}

/**
 * The forward pass of computeGradients, taped: the mean smoothed cross entropy against `labels`
 * [B], and the logits [B, K] (the caller disposes them). `retained` collects the tensors kept
 * for the backward (see losaTrainState).
 */
export function runSideNetworkLoss(
  config: SideConfig, param: ParamLookup, features: SideFeatures, labels: tf.Tensor1D, smoothing: number, retained: tf.Tensor[],
): { loss: tf.Scalar; logits: tf.Tensor2D } {
  const { layer, batch } = sideLayers(features, config);
  return tf.tidy(() => {
    const s = config.kind === 'linear' ? undefined : losaTrainState(layer, param, config, batch, retained);
    return headLoss(layer(config.numLayers - 1), s, labels, smoothing, param, config, batch, retained);
  });
}

/** The parameter lookup of a network, for runSideNetwork. */
export function paramLookup(variables: Map<string, tf.Variable>): ParamLookup {
  return (name) => {
    const v = variables.get(name);
    if (v === undefined) throw new LosaError(`side network has no parameter ${name}`);
    return v;
  };
}
