// One optimisation unit for the training loop: gradients of a micro-batch and their
// accumulation.
import { tf } from './tf.js';
import { LosaError } from '../errors.js';
import type { SideFeatures } from './input.js';
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
    return out;
  }

  /** Micro-batches not yet taken are discarded. */
  dispose(): void {
    for (const t of this.sums.values()) t.dispose();
    this.sums.clear();
  }
}
