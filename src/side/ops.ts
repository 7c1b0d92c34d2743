// The side network's building blocks: forward and backward halves written out by hand.
//
// Why by hand: tfjs autodiff is expensive on the wasm backend. Every taped kernel saves its
// inputs through an Identity kernel that COPIES them in wasm, its gradient adds several more
// kernels (each ~6 µs of engine overhead before any work), and tfjs's matMul gradient uses
// transposed matMuls, which wasm runs in a slow generic loop (5–10× a plain one). The LoSA
// blocks therefore run as one custom-gradient op each (losa.ts) built from the halves below,
// and so do the head and the loss together (linear.ts). Everything is plain tfjs ops, so it runs
// unchanged on the cpu, wasm and native `tensorflow` backends.
import { tf } from './tf.js';

/**
 * The mixers' activation:
 *   'gelu'        GELU, tanh approximation: 0.5·x·(1 + tanh(c·(x + a·x³))), c = √(2/π),
 *                 a = 0.044715 (PyTorch nn.GELU(approximate='tanh')); within 1e-3 of exact GELU.
 *   'quick-gelu'  x·σ(1.702·x) (CLIP's QuickGELU; within 0.02 of GELU): about half the kernels.
 * tfjs wasm's tanh is ~10× slower than its sigmoid, and its erf slower still, so the tanh form is
 * computed as the identical x·σ(2c·(x + a·x³)).
 */
export type Activation = 'gelu' | 'quick-gelu';

export const GELU_K1 = 2 * Math.sqrt(2 / Math.PI);
export const GELU_K3 = GELU_K1 * 0.044715;
export const QUICK_GELU_K = 1.702;

export interface GeluSaved {
  kind: Activation;
  x: tf.Tensor;
  sig: tf.Tensor;
  /** The output, kept: the next layer's weight gradient needs it. */
  y: tf.Tensor;
}

/** y = act(x); also returns what the backward half needs. */
export function geluForward(x: tf.Tensor, kind: Activation = 'gelu'): GeluSaved {
  const sig = kind === 'quick-gelu'
    ? tf.sigmoid(tf.mul(x, QUICK_GELU_K))
    : tf.sigmoid(tf.mul(x, tf.add(tf.mul(tf.square(x), GELU_K3), GELU_K1)));
  return { kind, x, sig, y: tf.mul(x, sig) };
}

/**
 * dL/dx from dL/dy.
 *   gelu:        act'(x) = σ + x·σ(1−σ)·(k1 + 3·k3·x²)
 *   quick-gelu:  act'(x) = σ + 1.702·x·σ(1−σ) = σ + 1.702·(y − y·σ)
 */
export function geluBackward(dy: tf.Tensor, { kind, x, sig, y }: GeluSaved): tf.Tensor {
  if (kind === 'quick-gelu') {
    return tf.mul(dy, tf.add(sig, tf.mul(tf.sub(y, tf.mul(y, sig)), QUICK_GELU_K)));
  }
  const du = tf.add(tf.mul(tf.square(x), 3 * GELU_K3), GELU_K1);
  const slope = tf.add(sig, tf.mul(tf.mul(x, tf.sub(sig, tf.square(sig))), du));
  return tf.mul(dy, slope);
}

export interface LayerNormSaved {
  xhat: tf.Tensor2D; // [N, D]
  rstd: tf.Tensor2D; // [N, 1]
}

/** LayerNorm over the last axis of x [N, D]: (x − mean)/√(var + eps) · gamma + beta. */
export function layerNormForward(
  x: tf.Tensor2D, gamma: tf.Tensor, beta: tf.Tensor, eps: number,
): { y: tf.Tensor2D; saved: LayerNormSaved } {
  const centred = tf.sub(x, tf.mean(x, 1, true)); // [N, D]
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), 1, true), eps)) as tf.Tensor2D; // [N, 1]
  const xhat = tf.mul(centred, rstd) as tf.Tensor2D; // [N, D]
  return { y: tf.add(tf.mul(xhat, gamma), beta) as tf.Tensor2D, saved: { xhat, rstd } };
}

/**
 * dx, dgamma, dbeta from dy:  dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)),  dx̂ = dy·gamma.
 * `dbeta` (the column sums of dy) may be passed in when the caller has a cheaper way to them:
 * a sum over axis 0 costs wasm a transpose.
 */
export function layerNormBackward(
  dy: tf.Tensor2D, gamma: tf.Tensor, { xhat, rstd }: LayerNormSaved, columnSums?: tf.Tensor1D, needDx = true,
): { dx: tf.Tensor2D | undefined; dgamma: tf.Tensor1D; dbeta: tf.Tensor1D } {
  const dgamma = tf.sum(tf.mul(dy, xhat), 0) as tf.Tensor1D; // [D]
  const dbeta = columnSums ?? (tf.sum(dy, 0) as tf.Tensor1D); // [D]
  if (!needDx) return { dx: undefined, dgamma, dbeta };
  const dxhat = tf.mul(dy, gamma); // [N, D]
  const meanDxhat = tf.mean(dxhat, 1, true); // [N, 1]
  const meanDxhatXhat = tf.mean(tf.mul(dxhat, xhat), 1, true); // [N, 1]
  const dx = tf.mul(tf.sub(tf.sub(dxhat, meanDxhat), tf.mul(xhat, meanDxhatXhat)), rstd) as tf.Tensor2D;
  return { dx, dgamma, dbeta };
}

/**
 * nn.Linear on rows: y = x·Wᵀ + b, x [M, in], W [out, in] (PyTorch layout), b [out] → [M, out].
 * Wᵀ is transposed explicitly (it is small) so that the matMul takes wasm's fast path, and the
 * bias is added inside the matMul kernel: a separate broadcast add onto a tall, narrow matrix
 * ([7680, 4] + [4]) costs wasm twice the matMul itself.
 */
export function linearForward(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: tf.transpose(weight), bias }) as tf.Tensor2D;
}

/**
 * Gradients of linearForward from dy [M, out]: dx = dy·W; dW = dyᵀ·x; db = Σ_rows dy.
 * wasm's matMul copies its right operand into a packed layout at ~5 ns per element, and here
 * both candidates for it are M rows tall, so the NARROWER of x and dy goes on the right:
 *   out ≤ in/2:  dWᵀ = xᵀ·dy  (dy packed; then a tiny transpose), db by a column sum of dy
 *   otherwise:   dW  = dyᵀ·x  (x packed), db by a row sum of dyᵀ, which is formed anyway
 * `xT`, when the caller already holds xᵀ [in, M] (another layout of the same tensor), saves
 * the transpose and selects the first form.
 */
export function linearBackward(
  dy: tf.Tensor2D, x: tf.Tensor2D | undefined, weight: tf.Tensor2D, xT?: tf.Tensor2D,
): { dx: tf.Tensor2D; dweight: tf.Tensor2D; dbias: tf.Tensor1D } {
  const dx = tf.matMul(dy, weight) as tf.Tensor2D; // [M, in]
  const out = dy.shape[1];
  const inFeatures = weight.shape[1];
  if (xT !== undefined || 2 * out <= inFeatures) {
    return {
      dx,
      dweight: tf.transpose(tf.matMul(xT ?? tf.transpose(x!), dy)) as tf.Tensor2D, // [out, in]
      dbias: tf.sum(dy, 0) as tf.Tensor1D, // [out]
    };
  }
  const dyT = tf.transpose(dy); // [out, M]
  return { dx, dweight: tf.matMul(dyT, x!), dbias: tf.sum(dyT, 1) as tf.Tensor1D };
}
