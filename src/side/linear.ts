// The head shared by both side kinds, and the `linear` side kind (a linear probe).
//
//   logits = W · mean_{T,P}( LN(x) ) + bias
//
// where x is b_L + s_L for LoSA and b_L alone for the probe. Both run this same code on the same
// layout, so at initialisation (s_L = 0 exactly) their logits agree to the last bit.
//
// In training, the head and the loss are ONE custom-gradient op with its backward written out,
// like the LoSA blocks (losa.ts): with no other op on the tape, training needs none of the
// gradients that tfjs registers, so tfjs-core alone is loaded (tf.ts).
import { tf } from './tf.js';
import type { SideConfig } from './config.js';
import { layerNormBackward, layerNormForward, linearBackward, linearForward } from './ops.js';
import { smoothedTargets } from './optim.js';

export type ParamLookup = (name: string) => tf.Tensor;

const HEAD_PARAM_NAMES = ['norm.weight', 'norm.bias', 'head.weight', 'head.bias'] as const;

/** Inference: logits [B, K] from x [B·T·P, D] (the channel layout, input.ts). */
export function head(x: tf.Tensor2D, param: ParamLookup, config: SideConfig, batch: number): tf.Tensor2D {
  const [gamma, beta, weight, bias] = HEAD_PARAM_NAMES.map(param) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D];
  return headForward(x, gamma, beta, weight, bias, config, batch).logits;
}

function headForward(
  x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, weight: tf.Tensor2D, bias: tf.Tensor1D, config: SideConfig, batch: number,
) {
  const { numFrames: T, tokens: P, width: D } = config;
  const ln = layerNormForward(x, gamma, beta, config.layerNormEps); // [B·T·P, D]
  const pooled = tf.mean(tf.reshape(ln.y, [batch, T * P, D]), 1) as tf.Tensor2D; // [B, D]
  return { logits: linearForward(pooled, weight, bias), pooled, ln: ln.saved }; // logits [B, K]
}

/**
 * Training: the label-smoothed cross entropy (optim.ts's smoothedCrossEntropy) of the head's
 * logits, taped as one op whose inputs are s_L (LoSA; undefined for the probe) and the head's
 * parameters; b, the last layer's features [B·T·P, D], is data. Also returns the logits [B, K],
 * kept (the caller disposes them). Tensors the backward needs are kept and listed in `retained`,
 * as in losaTrainState.
 */
export function headLoss(
  b: tf.Tensor2D, s: tf.Tensor2D | undefined, labels: tf.Tensor1D, smoothing: number,
  param: ParamLookup, config: SideConfig, batch: number, retained: tf.Tensor[],
): { loss: tf.Scalar; logits: tf.Tensor2D } {
  let logits: tf.Tensor2D | undefined;
  const op = tf.customGrad(((...args: unknown[]) => {
    const inputs = args.slice(0, -1) as tf.Tensor[]; // the last argument is tfjs's save()
    const sIn = s === undefined ? undefined : (inputs.shift() as tf.Tensor2D);
    const [gamma, beta, weight, bias] = inputs as [tf.Tensor1D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D];
    const x = sIn === undefined ? b : (tf.add(b, sIn) as tf.Tensor2D);
    const f = headForward(x, gamma, beta, weight, bias, config, batch);
    logits = tf.keep(f.logits);
    const logp = tf.logSoftmax(f.logits); // [B, K]
    const targets = smoothedTargets(labels, batch, config.numClasses, smoothing); // [B, K]
    const kept = [f.ln.xhat, f.ln.rstd, f.pooled, logp, targets].map((t) => tf.keep(t));
    retained.push(...kept);
    return {
      value: tf.div(tf.neg(tf.sum(tf.mul(targets, logp))), batch),
      gradFunc: (dy: tf.Tensor) => {
        const grads = tf.tidy(() => {
          // d loss / d logits = (softmax − targets) / B, the targets summing to 1 per clip.
          const dz = tf.mul(tf.sub(tf.exp(logp), targets), tf.div(dy, batch)) as tf.Tensor2D; // [B, K]
          const lin = linearBackward(dz, f.pooled, weight);
          return [...poolNormBackward(lin.dx, f.ln, gamma, config, batch, sIn !== undefined), lin.dweight, lin.dbias];
        });
        for (const t of kept) t.dispose();
        return grads;
      },
    };
  }) as never) as (...inputs: tf.Tensor[]) => tf.Scalar;
  const params = HEAD_PARAM_NAMES.map(param);
  const loss = s === undefined ? op(...params) : op(s, ...params);
  return { loss, logits: logits! };
}

/**
 * Back through the mean over (frame, token) and the LayerNorm: [dx (when wanted), dgamma, dbeta]
 * from d pooled [B, D]. Every row of a clip gets d pooled / (T·P), so the column sums of the
 * LayerNorm's output gradient (dbeta) are the column sums of d pooled.
 */
function poolNormBackward(
  dpooled: tf.Tensor2D, saved: ReturnType<typeof headForward>['ln'], gamma: tf.Tensor1D, config: SideConfig, batch: number, needDx: boolean,
): tf.Tensor[] {
  const { numFrames: T, tokens: P, width: D } = config;
  const perRow = tf.reshape(tf.div(dpooled, T * P), [batch, 1, D]);
  const dy = tf.reshape(tf.broadcastTo(perRow, [batch, T * P, D]), [batch * T * P, D]) as tf.Tensor2D; // [B·T·P, D]
  const ln = layerNormBackward(dy, gamma, saved, tf.sum(dpooled, 0) as tf.Tensor1D, needDx);
  return needDx ? [ln.dx!, ln.dgamma, ln.dbeta] : [ln.dgamma, ln.dbeta];
}
