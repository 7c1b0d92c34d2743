// One LoSA block (losa.ts has the equations) for ONE clip, forward and backward: the side
// network's kernels on a CPU (host.ts says why).
//
// A clip's tensors are [T, P, D] row-major, rows (frame, token), one column per channel: the
// channel layout of input.ts for a single clip. The mixers along T and along P read it with
// strides, so nothing is transposed for them. The products and the activations run in
// WebAssembly (kernels.wat, through kernels.ts), so every buffer is a view into the kernels'
// memory; the other element-wise steps are JavaScript loops. Gradients are ADDED into the gradient arrays, so that a call's
// clips sum into one gradient without a copy.
import { GELU_K1, GELU_K3, QUICK_GELU_K, type Activation } from './ops.js';
import type { Alloc, Kernels } from './kernels.js';

/** A block's parameters (PyTorch layouts, params.ts), and the channel weights transposed. */
export interface HostBlockParams {
  normW: Float32Array; normB: Float32Array; // [D]
  t1W: Float32Array; t1b: Float32Array; // [r_t, T], [r_t]
  t2W: Float32Array; t2b: Float32Array; // [T, r_t], [T]
  s1W: Float32Array; s1b: Float32Array; // [r_s, P], [r_s] (empty when P = 1)
  s2W: Float32Array; s2b: Float32Array; // [P, r_s], [P]
  c1W: Float32Array; c1b: Float32Array; // [r, D], [r]
  c2W: Float32Array; c2b: Float32Array; // [D, r], [D]
  /**
   * The channel weights transposed, c1T [D, r] and c2T [r, D], so that every channel product is
   * a dot product along a contiguous row. In a gradient, fc1's weight is accumulated as c1T
   * (c1W and c2T are empty there).
   */
  c1T: Float32Array; c2T: Float32Array;
}

export interface HostDims {
  T: number; P: number; D: number; rt: number; rs: number; r: number; eps: number; act: Activation;
}

/**
 * What a block's backward needs from its forward, for one clip. Each mixer's activation is kept
 * with its slope act'(h), so that the backward evaluates no exponential.
 */
export interface HostBlockSaved {
  xhat: Float32Array; // [T, P, D] the normalised input
  rstd: Float32Array; // [T·P]
  a1: Float32Array; s1: Float32Array; // [r_t, P·D] temporal activation, slope
  z1: Float32Array; // [T, P, D] temporal output
  a2: Float32Array; s2: Float32Array; // [T, r_s, D] spatial activation, slope (empty when P = 1)
  z2: Float32Array; // [T, P, D] spatial output (empty when P = 1: the channel input is z1)
  a3: Float32Array; s3: Float32Array; // [T·P, r] channel activation, slope
}

/** Scratch space for one clip, shared by every block, and the kernels whose memory holds it all. */
export interface HostScratch {
  k: Kernels;
  z0: Float32Array; // [T, P, D] LayerNorm output (the temporal input)
  g: Float32Array; // [T, P, D] the gradient in flight
  h1: Float32Array; // [r_t, P·D] a pre-activation, or in the backward its gradient
  h2: Float32Array; // [r_s, D]
  h3: Float32Array; // [T·P, r]
  colsD: Float32Array; // [D, T·P] a clip's rows transposed
  colsR: Float32Array; // [r, T·P]
}

export function hostBlockSaved(d: HostDims, alloc: Alloc): HostBlockSaved {
  const n = d.T * d.P * d.D, spatial = d.P > 1 ? d.T * d.rs * d.D : 0;
  return {
    xhat: alloc(n), rstd: alloc(d.T * d.P), a1: alloc(d.rt * d.P * d.D), s1: alloc(d.rt * d.P * d.D), z1: alloc(n),
    a2: alloc(spatial), s2: alloc(spatial), z2: alloc(d.P > 1 ? n : 0), a3: alloc(d.T * d.P * d.r), s3: alloc(d.T * d.P * d.r),
  };
}

export function hostScratch(d: HostDims, alloc: Alloc, k: Kernels): HostScratch {
  const n = d.T * d.P * d.D;
  return {
    k, z0: alloc(n), g: alloc(n), h1: alloc(d.rt * d.P * d.D), h2: alloc(d.rs * d.D), h3: alloc(d.T * d.P * d.r),
    colsD: alloc(n), colsR: alloc(d.T * d.P * d.r),
  };
}

/**
 * a[ao + i] = act(h[i]) and slope[ao + i] = act'(h[i]) for i < n:
 *   gelu:       x·σ(u), u = x·(k1 + k3·x²) (the tanh form, ops.ts);  act' = σ + x·σ(1−σ)·(k1 + 3k3·x²)
 *   quick-gelu: x·σ(1.702x);  act' = σ + 1.702·x·σ(1−σ)   (k1 = 1.702, k3 = 0)
 * In the kernels (four lanes, their own exponential) from four values on; in JavaScript below.
 */
export function activate(
  k: Kernels, h: Float32Array, n: number, act: Activation, a: Float32Array, slope: Float32Array, ao: number,
): void {
  const [k1, k3] = act === 'quick-gelu' ? [QUICK_GELU_K, 0] : [GELU_K1, GELU_K3];
  if (n >= 4) {
    k.activate(h.byteOffset, a.byteOffset + 4 * ao, slope.byteOffset + 4 * ao, n, k1, k3);
    return;
  }
  for (let i = 0; i < n; i++) {
    const x = h[i]!, x2 = x * x;
    const sig = 1 / (1 + Math.exp(-x * (k1 + k3 * x2)));
    a[ao + i] = x * sig;
    slope[ao + i] = sig + x * sig * (1 - sig) * (k1 + 3 * k3 * x2);
  }
}

/** [rows, cols] → [cols, rows] into `out`, which it returns */
export function transposeInto(a: Float32Array, rows: number, cols: number, out: Float32Array): Float32Array {
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

/**
 * out[oo + j·n + q] += Σ_i W[j·wj + i·wi] · x[xo + i·n + q]   for j < J, q < n:
 * a small matrix W [J, I] (any strides, so a transposed one too) times the rows of x [I, n].
 */
export function mixRows(
  k: Kernels, out: Float32Array, oo: number, W: Float32Array, wj: number, wi: number, J: number, I: number, x: Float32Array, xo: number, n: number,
): void {
  k.mixRows(out.byteOffset + 4 * oo, W.byteOffset, 4 * wj, 4 * wi, J, I, x.byteOffset + 4 * xo, n);
}

/** out[oo + j·os] += Σ_c W[wo + j·n + c] · x[xo + c]   for j < J: the rows of W [J, n] dotted with x [n]. */
export function dotRows(
  k: Kernels, out: Float32Array, oo: number, os: number, W: Float32Array, wo: number, J: number, x: Float32Array, xo: number, n: number,
): void {
  k.dotRows(out.byteOffset + 4 * oo, 4 * os, W.byteOffset + 4 * wo, J, x.byteOffset + 4 * xo, n);
}

function sum(a: Float32Array, from: number, n: number): number {
  let s = 0;
  for (let i = from; i < from + n; i++) s += a[i]!;
  return s;
}

/**
 * LayerNorm of x = b + s row by row into xhat, rstd, and out = xhat·γ + β. Frame t's features
 * start at b[bBase + t·bStride] (a clip [T, L, P, D] read at one layer); s is [T, P, D] or absent.
 */
export function layerNormRows(
  b: Float32Array, bBase: number, bStride: number, s: Float32Array | undefined, gamma: Float32Array, beta: Float32Array,
  d: { T: number; P: number; D: number; eps: number }, xhat: Float32Array, rstd: Float32Array, out: Float32Array,
): void {
  const { T, P, D } = d;
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < P; p++) {
      const o = (t * P + p) * D, bo = bBase + t * bStride + p * D;
      let mean = 0;
      for (let k = 0; k < D; k++) mean += (out[o + k] = b[bo + k]! + (s ? s[o + k]! : 0));
      mean /= D;
      let variance = 0;
      for (let k = 0; k < D; k++) variance += (out[o + k]! - mean) ** 2;
      const r = 1 / Math.sqrt(variance / D + d.eps);
      rstd[t * P + p] = r;
      for (let k = 0; k < D; k++) {
        const v = (out[o + k]! - mean) * r;
        xhat[o + k] = v;
        out[o + k] = v * gamma[k]! + beta[k]!;
      }
    }
  }
}

/**
 * Back through out = LN(x)·γ + β, rows of g = d out: adds to dγ and dβ, and when `dx` is given
 * adds rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = g·γ, to it.
 */
export function layerNormRowsBackward(
  g: Float32Array, xhat: Float32Array, rstd: Float32Array, gamma: Float32Array, rows: number, D: number,
  dGamma: Float32Array, dBeta: Float32Array, dx?: Float32Array,
): void {
  for (let n = 0; n < rows; n++) {
    const o = n * D;
    let m1 = 0, m2 = 0;
    for (let k = 0; k < D; k++) {
      const gy = g[o + k]!, xh = xhat[o + k]!;
      dGamma[k] += gy * xh;
      dBeta[k] += gy;
      m1 += gy * gamma[k]!;
      m2 += gy * gamma[k]! * xh;
    }
    if (!dx) continue;
    m1 /= D; m2 /= D;
    const r = rstd[n]!;
    for (let k = 0; k < D; k++) dx[o + k] += r * (g[o + k]! * gamma[k]! - m1 - xhat[o + k]! * m2);
  }
}

/**
 * s ← s + Δ for one clip: block (p) on layer features b (bBase, bStride as in layerNormRows)
 * and s = s_{l−1} [T, P, D] (zeros before the first block), saving what the backward needs.
 */
export function blockForward(
  b: Float32Array, bBase: number, bStride: number, s: Float32Array, p: HostBlockParams, d: HostDims,
  saved: HostBlockSaved, x: HostScratch,
): void {
  const { T, P, D, rt, rs, r } = d;
  const PD = P * D, N = T * P;
  const { z0, h1, h2, h3 } = x;
  const { a1, z1, a2, z2, a3 } = saved;
  layerNormRows(b, bBase, bStride, s, p.normW, p.normB, d, saved.xhat, saved.rstd, z0); // z0 [T, P, D]
  // Temporal, whole frames (rows of P·D): h1 = W1·z0 + b1 [r_t, P·D]; z1 = z0 + W2·act(h1) + b2.
  for (let j = 0; j < rt; j++) h1.fill(p.t1b[j]!, j * PD, (j + 1) * PD);
  mixRows(x.k, h1, 0, p.t1W, T, 1, rt, T, z0, 0, PD);
  activate(x.k, h1, rt * PD, d.act, a1, saved.s1, 0);
  for (let t = 0; t < T; t++) for (let q = 0; q < PD; q++) z1[t * PD + q] = z0[t * PD + q]! + p.t2b[t]!;
  mixRows(x.k, z1, 0, p.t2W, rt, 1, T, rt, a1, 0, PD);
  // Spatial, per frame (rows of D): h2 = W1·z1[t] + b1 [r_s, D]; z2[t] = z1[t] + W2·act(h2) + b2.
  if (P > 1) {
    for (let t = 0; t < T; t++) {
      const base = t * PD, hb = t * rs * D;
      for (let k = 0; k < rs; k++) h2.fill(p.s1b[k]!, k * D, (k + 1) * D);
      mixRows(x.k, h2, 0, p.s1W, P, 1, rs, P, z1, base, D);
      activate(x.k, h2, rs * D, d.act, a2, saved.s2, hb);
      for (let q = 0; q < P; q++) for (let c = 0; c < D; c++) z2[base + q * D + c] = z1[base + q * D + c]! + p.s2b[q]!;
      mixRows(x.k, z2, base, p.s2W, rs, 1, P, rs, a2, hb, D);
    }
  }
  // Channel, every row: h3 = z·W1ᵀ + b1 [T·P, r]; s += act(h3)·W2ᵀ + b2.
  const zc = P > 1 ? z2 : z1;
  for (let n = 0; n < N; n++) {
    h3.set(p.c1b, n * r);
    dotRows(x.k, h3, n * r, 1, p.c1W, 0, r, zc, n * D, D);
  }
  activate(x.k, h3, N * r, d.act, a3, saved.s3, 0);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < D; c++) s[n * D + c] += p.c2b[c]!;
    dotRows(x.k, s, n * D, 1, p.c2W, 0, D, a3, n * r, r);
  }
}

/**
 * Back through blockForward for one clip: ds = d loss / d s_l [T, P, D] becomes d loss / d s_{l−1}
 * in place (when `needDs`; the first block's input gets none), and the parameter gradients are
 * added to `gp` (HostBlockParams: fc1's weight as c1T).
 */
export function blockBackward(
  ds: Float32Array, p: HostBlockParams, d: HostDims, saved: HostBlockSaved, x: HostScratch, gp: HostBlockParams, needDs: boolean,
): void {
  channelBackward(ds, p, d, saved, x, gp); // x.g = d (channel input)
  if (d.P > 1) spatialBackward(p, d, saved, x, gp); // x.g = d z1
  temporalBackward(p, d, saved, x, gp); // x.g = d z0
  layerNormRowsBackward(x.g, saved.xhat, saved.rstd, p.normW, d.T * d.P, d.D, gp.normW, gp.normB, needDs ? ds : undefined);
}

function channelBackward(ds: Float32Array, p: HostBlockParams, d: HostDims, saved: HostBlockSaved, x: HostScratch, gp: HostBlockParams): void {
  const { T, P, D, r } = d;
  const N = T * P;
  const zc = P > 1 ? saved.z2 : saved.z1;
  const { g, h3, colsD, colsR } = x;
  for (let n = 0; n < N; n++) for (let c = 0; c < D; c++) gp.c2b[c] += ds[n * D + c]!;
  // d W2[c, k] = Σ_n ds[n, c]·act(h3)[n, k]: dot products along n of the transposed rows.
  transposeInto(ds, N, D, colsD);
  transposeInto(saved.a3, N, r, colsR);
  for (let c = 0; c < D; c++) dotRows(x.k, gp.c2W, c * r, 1, colsR, 0, r, colsD, c * N, N);
  h3.fill(0); // d h3 = (ds·W2) ⊙ act'(h3)
  for (let n = 0; n < N; n++) dotRows(x.k, h3, n * r, 1, p.c2T, 0, r, ds, n * D, D);
  for (let i = 0; i < N * r; i++) h3[i] *= saved.s3[i]!;
  for (let n = 0; n < N; n++) for (let k = 0; k < r; k++) gp.c1b[k] += h3[n * r + k]!;
  // d W1ᵀ[c, k] = Σ_n z[n, c]·d h3[n, k]
  transposeInto(zc, N, D, colsD);
  transposeInto(h3, N, r, colsR);
  for (let c = 0; c < D; c++) dotRows(x.k, gp.c1T, c * r, 1, colsR, 0, r, colsD, c * N, N);
  g.fill(0); // d z = d h3·W1
  for (let n = 0; n < N; n++) dotRows(x.k, g, n * D, 1, p.c1T, 0, D, h3, n * r, r);
}

/** g = d z2 → d z1 (the residual passes by; the MLP adds its part), per frame. */
function spatialBackward(p: HostBlockParams, d: HostDims, saved: HostBlockSaved, x: HostScratch, gp: HostBlockParams): void {
  const { T, P, D, rs } = d;
  const { g, h2 } = x;
  for (let t = 0; t < T; t++) {
    const base = t * P * D, hb = t * rs * D;
    for (let q = 0; q < P; q++) {
      gp.s2b[q] += sum(g, base + q * D, D);
      dotRows(x.k, gp.s2W, q * rs, 1, saved.a2, hb, rs, g, base + q * D, D); // d W2[q, k] = g[q]·act(h2[k])
    }
    h2.fill(0); // d h2 = (W2ᵀ·g) ⊙ act'(h2)
    mixRows(x.k, h2, 0, p.s2W, 1, rs, rs, P, g, base, D);
    for (let i = 0; i < rs * D; i++) h2[i] *= saved.s2[hb + i]!;
    for (let k = 0; k < rs; k++) gp.s1b[k] += sum(h2, k * D, D);
    for (let q = 0; q < P; q++) dotRows(x.k, gp.s1W, q, P, h2, 0, rs, saved.z1, base + q * D, D); // d W1[k, q] = d h2[k]·z1[q]
    mixRows(x.k, g, base, p.s1W, 1, P, P, rs, h2, 0, D); // g += W1ᵀ·d h2
  }
}

/** g = d z1 → d z0, whole frames (rows of P·D) at a time. */
function temporalBackward(p: HostBlockParams, d: HostDims, saved: HostBlockSaved, x: HostScratch, gp: HostBlockParams): void {
  const { T, P, D, rt } = d;
  const PD = P * D;
  const { g, h1, z0 } = x;
  for (let t = 0; t < T; t++) {
    gp.t2b[t] += sum(g, t * PD, PD);
    dotRows(x.k, gp.t2W, t * rt, 1, saved.a1, 0, rt, g, t * PD, PD); // d W2[t, j] = g[t]·act(h1[j])
  }
  h1.fill(0); // d h1 = (W2ᵀ·g) ⊙ act'(h1)
  mixRows(x.k, h1, 0, p.t2W, 1, rt, rt, T, g, 0, PD);
  for (let i = 0; i < rt * PD; i++) h1[i] *= saved.s1[i]!;
  // The temporal input z0 = x̂·γ + β, recomputed rather than kept.
  for (let n = 0; n < T * P; n++) for (let c = 0; c < D; c++) z0[n * D + c] = saved.xhat[n * D + c]! * p.normW[c]! + p.normB[c]!;
  for (let j = 0; j < rt; j++) gp.t1b[j] += sum(h1, j * PD, PD);
  for (let t = 0; t < T; t++) dotRows(x.k, gp.t1W, t, T, h1, 0, rt, z0, t * PD, PD); // d W1[j, t] = d h1[j]·z0[t]
  mixRows(x.k, g, 0, p.t1W, 1, T, T, rt, h1, 0, PD); // g += W1ᵀ·d h1
}
