// One optimisation unit for the training loop: gradients of a micro-batch and their
// accumulation.
import { tf } from './tf.js';
import { LosaError } from '../errors.js';
import { featureArrays, type SideFeatures } from './input.js';
import { hostGradients, usesHostKernels } from './host.js';
import { paramLookup, runSideNetworkLoss, type SideNetwork } from './network.js';

export interface GradientResult {
  /** Mean smoothed cross entropy over the micro-batch. */
  loss: number;
  /** Clips whose top-1 prediction equals the label. */
  correct: number;
  /** Clips whose label is among the top 5 predictions. */
  correctTop5: number;
  /** d loss / d variable for every variable of net.variables; the caller disposes them. */
  grads: Map<string, tf.Tensor>;
}

/**
 * Forward and backward pass on one micro-batch: features [B, T, L, P, D] (tensor or float32
 * data, see SideNetwork.apply), labels [B] int32. Not to be called inside tf.tidy.
 */
export function computeGradients(net: SideNetwork, features: SideFeatures, labels: tf.Tensor1D, smoothing: number): GradientResult {
  return usesHostKernels() ? hostComputeGradients(net, features, labels, smoothing) : tfComputeGradients(net, features, labels, smoothing);
}

/**
 * One micro-batch's gradient added to `accumulator` with `weight` (see GradientAccumulator); on
 * the host kernels it never becomes a tensor (one upload per step, at take()).
 */
export function accumulateGradient(
  net: SideNetwork, features: SideFeatures, labels: number[], smoothing: number, accumulator: GradientAccumulator, weight: number,
): Omit<GradientResult, 'grads'> {
  if (usesHostKernels()) {
    const r = hostStep(net, features, labels, smoothing);
    if (Number.isFinite(r.loss)) accumulator.addValues(r.grads, weight, (name) => net.variables.get(name)!.shape);
    return { loss: r.loss, correct: r.correct, correctTop5: r.correctTop5 };
  }
  const y = tf.tensor1d(labels, 'int32');
  const { grads, ...r } = tfComputeGradients(net, features, y, smoothing);
  y.dispose();
  if (Number.isFinite(r.loss)) accumulator.add(grads, weight);
  for (const g of grads.values()) g.dispose();
  return r;
}

/** computeGradients on the host kernels (host.ts); the gradients come back as tensors. */
function hostComputeGradients(net: SideNetwork, features: SideFeatures, labels: tf.Tensor1D, smoothing: number): GradientResult {
  const { grads: values, ...r } = hostStep(net, features, labels.dataSync(), smoothing);
  const grads = new Map<string, tf.Tensor>();
  // Copies: the values are views the next call overwrites, and the cpu backend keeps what it is given.
  for (const [name, g] of values) grads.set(name, tf.tensor(g.slice(), net.variables.get(name)!.shape, 'float32'));
  return { ...r, grads };
}

/** Loss, hit counts and the gradient's values (views into the host workspace) of one micro-batch. */
function hostStep(
  net: SideNetwork, features: SideFeatures, truth: ArrayLike<number>, smoothing: number,
): Omit<GradientResult, 'grads'> & { grads: Map<string, Float32Array> } {
  const { config, variables } = net;
  const lookup = paramLookup(variables);
  const source = { value: (name: string) => lookup(name).dataSync() as Float32Array, key: [...variables.values()].map((v) => v.dataId) };
  const r = hostGradients(config, source, featureArrays(features, config), truth, smoothing);
  let correct = 0, correctTop5 = 0;
  const K = config.numClasses;
  for (let i = 0; i < truth.length; i++) {
    const rank = labelRank(r.logits.subarray(i * K, (i + 1) * K), truth[i]!);
    if (rank === 0) correct++;
    if (rank < 5) correctTop5++;
  }
  return { loss: r.loss, correct, correctTop5, grads: r.grads };
}

/** The label's place when the logits are sorted high to low, ties going to the lower index (as tf.argMax). */
function labelRank(logits: Float32Array, label: number): number {
  const own = logits[label]!;
  let rank = 0;
  for (let k = 0; k < logits.length; k++) if (logits[k]! > own || (logits[k] === own && k < label)) rank++;
  return rank;
}

/** computeGradients on tfjs ops: one custom-gradient op per block and one for the head and loss. */
function tfComputeGradients(net: SideNetwork, features: SideFeatures, labels: tf.Tensor1D, smoothing: number): GradientResult {
  const names = [...net.variables.keys()];
  const varList = names.map((n) => net.variables.get(n)!);
  const param = paramLookup(net.variables);
  let logits: tf.Tensor2D | undefined;
  const retained: tf.Tensor[] = [];
  let value: tf.Scalar;
  let grads: tf.NamedTensorMap;
  try {
    ({ value, grads } = tf.variableGrads(() => {
      const out = runSideNetworkLoss(net.config, param, features, labels, smoothing, retained);
      logits = out.logits;
      return out.loss;
    }, varList));
  } catch (error) {
    logits?.dispose();
    throw error;
  } finally {
    // Normally each block's backward has released these already; this covers a failure.
    for (const t of retained) t.dispose();
  }
  // Read loss and the correct count with ONE download (one sync on a GPU backend), and outside
  // any tidy: tidy walks a returned typed array element by element.
  const stats = tf.tidy(() => {
    const truth = tf.cast(labels, 'int32');
    const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits!, 1), truth), 'float32'));
    const k = Math.min(5, logits!.shape[1]);
    const top = tf.topk(logits!, k).indices; // [B, k]
    const hits5 = tf.sum(tf.cast(tf.equal(top, tf.expandDims(truth, 1)), 'float32'));
    return tf.stack([value, hits, hits5]);
  });
  logits!.dispose();
  value.dispose();
  const [loss, correct, correctTop5] = stats.dataSync() as Float32Array;
  stats.dispose();
  const out = new Map<string, tf.Tensor>();
  names.forEach((name, i) => out.set(name, grads[varList[i]!.name]!));
  return { loss: loss!, correct: Math.round(correct!), correctTop5: Math.round(correctTop5!), grads: out };
}

/**
 * Sums weighted micro-batch gradients for `--accumulate K`. With weights = micro-batch size /
 * total batch size, take() is the gradient of the whole batch's mean loss. add() copies what
 * it needs: the caller still owns (and disposes) the grads it passes in.
 */
export class GradientAccumulator {
  private sums = new Map<string, tf.Tensor>();
  /** Sums of gradients given as values (addValues), with their shapes: uploaded at take(). */
  private valueSums = new Map<string, { sum: Float32Array; shape: number[] }>();

  /** Like add(), for gradients given as values (copied: the caller may reuse its arrays). */
  addValues(grads: Map<string, Float32Array>, weight: number, shapeOf: (name: string) => number[]): void {
    if (!Number.isFinite(weight)) throw new LosaError(`gradient weight ${weight} is not finite`);
    for (const [name, grad] of grads) {
      let entry = this.valueSums.get(name);
      if (entry === undefined) this.valueSums.set(name, (entry = { sum: new Float32Array(grad.length), shape: shapeOf(name) }));
      if (entry.sum.length !== grad.length) throw new LosaError(`gradient for ${name} changed size from ${entry.sum.length} to ${grad.length}`);
      const { sum } = entry;
      for (let i = 0; i < grad.length; i++) sum[i] += weight * grad[i]!;
    }
  }

  add(grads: Map<string, tf.Tensor>, weight: number): void {
    if (!Number.isFinite(weight)) throw new LosaError(`gradient weight ${weight} is not finite`);
    for (const [name, grad] of grads) {
      const previous = this.sums.get(name);
      if (previous !== undefined && previous.size !== grad.size) {
        throw new LosaError(`gradient for ${name} changed shape from [${previous.shape.join(', ')}] to [${grad.shape.join(', ')}]`);
      }
      const next = tf.tidy(() => {
        const scaled = weight === 1 ? grad.clone() : tf.mul(grad, weight);
        return previous === undefined ? scaled : tf.add(previous, scaled);
      });
      previous?.dispose();
      this.sums.set(name, next);
    }
  }

  /** The sums so far (the caller owns them); the accumulator starts empty again. */
  take(): Map<string, tf.Tensor> {
    const out = this.sums;
    this.sums = new Map();
    for (const [name, { sum, shape }] of this.valueSums) {
      const previous = out.get(name);
      const t = tf.tensor(sum, shape, 'float32');
      out.set(name, previous === undefined ? t : tf.tidy(() => tf.add(previous, t)));
      if (previous !== undefined) tf.dispose([previous, t]);
    }
    this.valueSums.clear();
    return out;
  }

  /** Micro-batches not yet taken are discarded. */
  dispose(): void {
    for (const t of this.sums.values()) t.dispose();
    this.sums.clear();
    this.valueSums.clear();
  }
}
