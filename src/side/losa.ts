// The LoSA side network (our reconstruction of Mercea et al., CVPR 2024; DESIGN.md):
//
//   for each tapped layer l (own weights), with s_0 = 0:
//     z   = LN(b_l + s_{l-1})
//     z   = z + TemporalMix(z)     low-rank MLP along T: T → r_t → T, GELU
//     z   = z + SpatialMix(z)      low-rank MLP along P: P → r_s → P, GELU (skipped when P = 1)
//     Δ   = ChannelMix(z)          low-rank MLP along D: D → r → D, GELU, up-projection zero at init
//     s_l = s_{l-1} + Δ
//   logits = W · mean_{T,P}(LN(b_L + s_L)) + bias
//
// Every mixer is fc2(act(fc1(·))) with nn.Linear layers that have biases; act is GELU (tanh
// approximation) by default, or QuickGELU (SideConfig.activation, ops.ts). The temporal mixer's
// weights are indexed by frame position, so it can tell a sequence from its reverse; a mean over
// frames cannot.
//
// Layout: each mixer is a row-wise nn.Linear on a view whose last axis is the mixed one:
//   channel  on CL [B·T·P, D]   (the features' own order; input.ts)
//   temporal on TL [P·D·B, T]   (one 2-D transpose from CL)
//   spatial  on SL [D·B·T, P]   (one 2-D transpose from TL, and one more back to CL)
// so every matMul has the small weight as its right operand (wasm's fast path), and the
// transposes are 2-D (tfjs wasm's 5-D transpose is ~70× slower than a 4-D one). In training each
// block is ONE custom-gradient op whose backward is written out (ops.ts), and the tensors it
// needs are kept from its forward, not copied.
import { tf } from './tf.js';
import type { SideConfig } from './config.js';
import type { ParamLookup } from './linear.js';
import {
  geluBackward, geluForward, layerNormBackward, layerNormForward, linearBackward, linearForward,
  type Activation, type GeluSaved, type LayerNormSaved,
} from './ops.js';

/** A block's parameters, in the order of params.ts (spatial ones absent when P = 1). */
interface BlockParams {
  normW: tf.Tensor1D; normB: tf.Tensor1D;
  t1W: tf.Tensor2D; t1b: tf.Tensor1D; t2W: tf.Tensor2D; t2b: tf.Tensor1D;
  s1W?: tf.Tensor2D; s1b?: tf.Tensor1D; s2W?: tf.Tensor2D; s2b?: tf.Tensor1D;
  c1W: tf.Tensor2D; c1b: tf.Tensor1D; c2W: tf.Tensor2D; c2b: tf.Tensor1D;
}

const BLOCK_PARAM_NAMES = [
  'norm.weight', 'norm.bias',
  'temporal.fc1.weight', 'temporal.fc1.bias', 'temporal.fc2.weight', 'temporal.fc2.bias',
  'spatial.fc1.weight', 'spatial.fc1.bias', 'spatial.fc2.weight', 'spatial.fc2.bias',
  'channel.fc1.weight', 'channel.fc1.bias', 'channel.fc2.weight', 'channel.fc2.bias',
] as const;

/** The parameter names of block `l`, in the order blockParams() and the block op take them. */
export function blockParamNames(l: number, tokens: number): string[] {
  return BLOCK_PARAM_NAMES.filter((n) => tokens > 1 || !n.startsWith('spatial.')).map((n) => `blocks.${l}.${n}`);
}

function blockParams(list: tf.Tensor[], tokens: number): BlockParams {
  const [normW, normB, t1W, t1b, t2W, t2b, ...rest] = list;
  const spatial = tokens > 1 ? rest.splice(0, 4) : [];
  const [c1W, c1b, c2W, c2b] = rest;
  return {
    normW, normB, t1W, t1b, t2W, t2b, c1W, c1b, c2W, c2b,
    s1W: spatial[0], s1b: spatial[1], s2W: spatial[2], s2b: spatial[3],
  } as BlockParams;
}

interface Dims {
  T: number; P: number; D: number; batch: number; eps: number; act: Activation;
}

interface BlockSaved {
  ln: LayerNormSaved;
  zt: tf.Tensor2D; // temporal input, TL [P·D·B, T]
  gelu1: GeluSaved;
  z1: tf.Tensor2D; // temporal output, TL [P·D·B, T]; as [P, D·B·T] it is the spatial input transposed
  gelu2?: GeluSaved;
  z2?: tf.Tensor2D; // spatial output, SL [D·B·T, P]; as [D, B·T·P] it is the channel input transposed
  gelu3: GeluSaved;
}

function savedTensors(s: BlockSaved): tf.Tensor[] {
  const out: tf.Tensor[] = [s.ln.xhat, s.ln.rstd, s.zt, s.z1];
  if (s.z2) out.push(s.z2);
  for (const g of [s.gelu1, s.gelu2, s.gelu3]) if (g) out.push(g.x, g.sig, g.y);
  return out;
}

/**
 * s_l from the layer's features b and s_{l-1} (undefined for the first block), all in the
 * channel layout CL [B·T·P, D]. The token mixers run in
 *   TL [P·D·B, T]  (rows (token, channel, clip), one column per frame)   and
 *   SL [D·B·T, P]  (rows (channel, clip, frame), one column per token),
 * chosen so that CL → TL → SL → CL are each ONE 2-D transpose, and so that TL read as
 * [P, D·B·T] is the spatial input transposed and SL read as [D, B·T·P] the channel input
 * transposed: two weight gradients then need no transpose of their own.
 */
function blockForward(b: tf.Tensor2D, sPrev: tf.Tensor2D | undefined, p: BlockParams, d: Dims): { s: tf.Tensor2D; saved: BlockSaved } {
  const { T, P, D, batch: B } = d;
  const x = sPrev === undefined ? b : (tf.add(b, sPrev) as tf.Tensor2D);
  const ln = layerNormForward(x, p.normW, p.normB, d.eps); // CL [B·T·P, D]

  const zt = tf.reshape(tf.transpose(tf.reshape(ln.y, [B * T, P * D])), [P * D * B, T]) as tf.Tensor2D; // TL
  const g1 = geluForward(linearForward(zt, p.t1W, p.t1b), d.act); // [P·D·B, r_t]
  const z1 = tf.add(zt, linearForward(g1.y as tf.Tensor2D, p.t2W, p.t2b)) as tf.Tensor2D; // TL

  let zc: tf.Tensor2D;
  let z2: tf.Tensor2D | undefined;
  let g2: GeluSaved | undefined;
  if (P > 1) {
    const zs = tf.transpose(tf.reshape(z1, [P, D * B * T])) as tf.Tensor2D; // SL [D·B·T, P]
    g2 = geluForward(linearForward(zs, p.s1W!, p.s1b!), d.act); // [D·B·T, r_s]
    z2 = tf.add(zs, linearForward(g2.y as tf.Tensor2D, p.s2W!, p.s2b!)) as tf.Tensor2D; // SL
    zc = tf.transpose(tf.reshape(z2, [D, B * T * P])) as tf.Tensor2D; // CL
  } else {
    zc = tf.transpose(tf.reshape(z1, [D, B * T])) as tf.Tensor2D; // CL [B·T, D] (TL is [D·B, T] here)
  }
  const g3 = geluForward(linearForward(zc, p.c1W, p.c1b), d.act); // [B·T·P, r]
  const delta = linearForward(g3.y as tf.Tensor2D, p.c2W, p.c2b); // CL
  const s = sPrev === undefined ? delta : (tf.add(sPrev, delta) as tf.Tensor2D);
  return { s, saved: { ln: ln.saved, zt, gelu1: g1, z1, gelu2: g2, z2, gelu3: g3 } };
}

/** Gradients of blockForward: d s_{l-1} (when there is one) and one per parameter, in order. */
function blockBackward(ds: tf.Tensor2D, saved: BlockSaved, p: BlockParams, d: Dims, hasPrev: boolean): tf.Tensor[] {
  const { T, P, D, batch: B } = d;
  // Channel mixer (dΔ = ds). Its input transposed, [D, B·T·P], is SL (or TL when P = 1).
  const c2 = linearBackward(ds, saved.gelu3.y as tf.Tensor2D, p.c2W);
  const zcT = tf.reshape(P > 1 ? saved.z2! : saved.z1, [D, B * T * P]) as tf.Tensor2D;
  const c1 = linearBackward(geluBackward(c2.dx, saved.gelu3) as tf.Tensor2D, undefined, p.c1W, zcT);
  // Spatial mixer (residual: the gradient passes by and through the MLP).
  let dz1: tf.Tensor2D; // TL [P·D·B, T]
  const spatialGrads: tf.Tensor[] = [];
  if (P > 1) {
    const dz2 = tf.reshape(tf.transpose(tf.reshape(c1.dx, [B * T * P, D])), [D * B * T, P]) as tf.Tensor2D; // SL
    const s2 = linearBackward(dz2, saved.gelu2!.y as tf.Tensor2D, p.s2W!);
    const zsT = tf.reshape(saved.z1, [P, D * B * T]) as tf.Tensor2D; // the spatial input, transposed
    const s1 = linearBackward(geluBackward(s2.dx, saved.gelu2!) as tf.Tensor2D, undefined, p.s1W!, zsT);
    const dzs = tf.add(dz2, s1.dx); // SL
    dz1 = tf.reshape(tf.transpose(tf.reshape(dzs, [D * B * T, P])), [P * D * B, T]) as tf.Tensor2D; // TL
    spatialGrads.push(s1.dweight, s1.dbias, s2.dweight, s2.dbias);
  } else {
    dz1 = tf.reshape(tf.transpose(c1.dx), [D * B, T]) as tf.Tensor2D; // TL
  }
  // Temporal mixer.
  const t2 = linearBackward(dz1, saved.gelu1.y as tf.Tensor2D, p.t2W);
  const t1 = linearBackward(geluBackward(t2.dx, saved.gelu1) as tf.Tensor2D, saved.zt, p.t1W);
  const dzt = tf.add(dz1, t1.dx); // TL [P·D·B, T]
  const dz0 = tf.reshape(tf.transpose(tf.reshape(dzt, [P * D, B * T])), [B * T * P, D]) as tf.Tensor2D; // CL
  // dβ = Σ over (clip, frame, token) of dz0, summed while TL has rows (token, channel, clip):
  // [P, D, B·T] over its last axis, then over P (cheaper than a column sum of dz0).
  const dbeta = tf.sum(tf.sum(tf.reshape(dzt, [P, D, B * T]), 2), 0) as tf.Tensor1D; // [D]
  // The first block's input is the features alone: no gradient flows further back from it.
  const ln = layerNormBackward(dz0, p.normW, saved.ln, dbeta, hasPrev);
  const grads: tf.Tensor[] = [
    ln.dgamma, ln.dbeta, t1.dweight, t1.dbias, t2.dweight, t2.dbias, ...spatialGrads,
    c1.dweight, c1.dbias, c2.dweight, c2.dbias,
  ];
  return hasPrev ? [tf.add(ds, ln.dx!), ...grads] : grads;
}

function dims(config: SideConfig, batch: number): Dims {
  return {
    T: config.numFrames, P: config.tokens, D: config.width, batch, eps: config.layerNormEps,
    act: config.activation ?? 'gelu',
  };
}

/** Inference: s_L [B·T·P, D] from the layers in the side layout (input.ts); the head follows. */
export function losaState(layer: (l: number) => tf.Tensor2D, param: ParamLookup, config: SideConfig, batch: number): tf.Tensor2D {
  const d = dims(config, batch);
  let s: tf.Tensor2D | undefined;
  for (let l = 0; l < config.numLayers; l++) {
    const p = blockParams(blockParamNames(l, config.tokens).map(param), config.tokens);
    const sPrev = s;
    // One tidy per block: its intermediates (and its layer's features) are freed at once, so the
    // next block reuses their memory (fresh allocations make every wasm kernel several times slower).
    s = tf.tidy(() => blockForward(layer(l), sPrev, p, d).s);
    sPrev?.dispose();
  }
  return s!;
}

/**
 * Training: s_L [B·T·P, D], taped for tf.variableGrads with one custom-gradient op per block
 * (the head and the loss follow as one more, headLoss in linear.ts). Tensors a block's backward
 * needs are tf.keep()-ed in its forward, released by its backward, and listed in `retained` so
 * the caller can free them if backward never runs. Nothing else outlives its block's forward:
 * neither the layer's features b nor s_{l−1}, whose data no backward reads (the tape needs only
 * their ids and shapes), so each is freed as soon as the next block has used it.
 */
export function losaTrainState(
  layer: (l: number) => tf.Tensor2D, param: ParamLookup, config: SideConfig, batch: number, retained: tf.Tensor[],
): tf.Tensor2D {
  const d = dims(config, batch);
  let s: tf.Tensor2D | undefined;
  for (let l = 0; l < config.numLayers; l++) {
    const b = layer(l);
    const paramList = blockParamNames(l, config.tokens).map(param);
    const hasPrev = s !== undefined;
    const op = tf.customGrad(((...args: unknown[]) => {
      const inputs = args.slice(0, -1) as tf.Tensor[]; // the last argument is tfjs's save()
      const sPrev = hasPrev ? (inputs[0] as tf.Tensor2D) : undefined;
      const p = blockParams(hasPrev ? inputs.slice(1) : inputs, config.tokens);
      const { s: sNew, saved } = blockForward(b, sPrev, p, d);
      const kept = savedTensors(saved).map((t) => tf.keep(t));
      retained.push(...kept);
      return {
        value: sNew,
        gradFunc: (dy: tf.Tensor) => {
          const grads = tf.tidy(() => blockBackward(dy as tf.Tensor2D, saved, p, d, hasPrev));
          for (const t of kept) t.dispose();
          return grads;
        },
      };
    }) as never) as (...inputs: tf.Tensor[]) => tf.Tensor2D;
    const sPrev = s;
    s = hasPrev ? op(sPrev!, ...paramList) : op(...paramList);
    b.dispose();
    sPrev?.dispose();
  }
  return s!;
}
