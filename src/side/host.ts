// The side network on a CPU: the same maths as losa.ts and linear.ts, one clip at a time, as
// JavaScript loops around WebAssembly SIMD kernels (host-block.ts, kernels.wat).
//
// Why: on the wasm and cpu backends, a side-network call through tfjs ops is ~1,900 kernels, each
// with engine overhead and a fresh output in the wasm heap, whose high-water mark never comes
// back (about 20 MiB for ViT-S/16 at 2 clips per call), and tfjs's short-lived objects grow V8's
// young generation. Here a clip is processed whole (its loss depends on it alone) in buffers laid
// out once per network in the memory of the SIMD kernels (kernels.ts): for ViT-S/16 about 4 MiB,
// whatever the number of clips per call. The step is 1.2–1.4× faster than on tfjs ops
// (scripts/bench-side-kernels.js). On the `tensorflow` backend (a GPU) the tfjs ops run instead.
// The parameters, AdamW and the checkpoints stay tfjs tensors either way.
import { LosaError, expected } from '../errors.js';
import { currentTfBackend } from './backend.js';
import type { SideConfig } from './config.js';
import { sideParamSpecs } from './params.js';
import {
  blockBackward, blockForward, dotRows, hostBlockSaved, hostScratch, layerNormRows, layerNormRowsBackward, mixRows, transposeInto,
  type HostBlockParams, type HostBlockSaved, type HostDims, type HostScratch,
} from './host-block.js';
import { kernelsWith, type Alloc } from './kernels.js';

/**
 * Which kernels run the side network's forward and backward passes: 'host' (this file), 'tfjs'
 * (losa.ts and linear.ts, on the tfjs backend), or 'auto' (the default): host on the wasm and cpu
 * backends, tfjs on `tensorflow`.
 */
export type SideKernels = 'auto' | 'host' | 'tfjs';

/** The choice: set by setSideKernels, else $LOSA_SIDE_KERNELS (read at first use), else 'auto'. */
let kernels: SideKernels | undefined;

function checkedKernels(choice: string, what: string): SideKernels {
  if (choice !== 'auto' && choice !== 'host' && choice !== 'tfjs') throw expected(what, '"auto", "host" or "tfjs"', choice);
  return choice;
}

/** Chooses the side network's kernels for this process (the tests run both). */
export function setSideKernels(choice: SideKernels): void {
  kernels = checkedKernels(choice, 'side kernels');
}

/** True when the side network runs on the host kernels (see SideKernels). */
export function usesHostKernels(): boolean {
  kernels ??= checkedKernels(process.env.LOSA_SIDE_KERNELS || 'auto', 'LOSA_SIDE_KERNELS');
  return kernels === 'host' || (kernels === 'auto' && currentTfBackend() !== 'tensorflow');
}

/** The head's parameters: norm.weight, norm.bias [D], head.weight [K, D], head.bias [K]. */
interface HostHead { normW: Float32Array; normB: Float32Array; W: Float32Array; b: Float32Array }

export interface HostParams { blocks: HostBlockParams[]; head: HostHead }

/** Parameter name suffixes (params.ts) → HostBlockParams fields. */
const BLOCK_FIELDS: Record<string, keyof HostBlockParams> = {
  'norm.weight': 'normW', 'norm.bias': 'normB',
  'temporal.fc1.weight': 't1W', 'temporal.fc1.bias': 't1b', 'temporal.fc2.weight': 't2W', 'temporal.fc2.bias': 't2b',
  'spatial.fc1.weight': 's1W', 'spatial.fc1.bias': 's1b', 'spatial.fc2.weight': 's2W', 'spatial.fc2.bias': 's2b',
  'channel.fc1.weight': 'c1W', 'channel.fc1.bias': 'c1b', 'channel.fc2.weight': 'c2W', 'channel.fc2.bias': 'c2b',
};
const HEAD_FIELDS: Record<string, keyof HostHead> = { 'norm.weight': 'normW', 'norm.bias': 'normB', 'head.weight': 'W', 'head.bias': 'b' };
const EMPTY = new Float32Array(0);

/**
 * Views for every parameter (PyTorch layouts, params.ts) and the channel weights transposed; for
 * a gradient, fc1's weight is accumulated transposed only (HostBlockParams).
 */
function layoutParams(config: SideConfig, alloc: Alloc, gradient: boolean): HostParams {
  const { rank: r, width: D } = config;
  // Sizes by name, from params.ts (spatial ones absent when P = 1).
  const sizes = new Map(sideParamSpecs(config).map((spec) => [spec.name, spec.shape.reduce((a, b) => a * b, 1)]));
  const blocks: HostBlockParams[] = [];
  for (let l = 0; config.kind === 'losa' && l < config.numLayers; l++) {
    const p = { s1W: EMPTY, s1b: EMPTY, s2W: EMPTY, s2b: EMPTY } as HostBlockParams;
    for (const [suffix, field] of Object.entries(BLOCK_FIELDS)) {
      const size = sizes.get(`blocks.${l}.${suffix}`);
      if (size !== undefined) p[field] = field === 'c1W' && gradient ? EMPTY : alloc(size);
    }
    p.c1T = alloc(D * r);
    p.c2T = gradient ? EMPTY : alloc(D * r);
    blocks.push(p);
  }
  const head = {} as HostHead;
  for (const [name, field] of Object.entries(HEAD_FIELDS)) head[field] = alloc(sizes.get(name)!);
  return { blocks, head };
}

/** Copies the parameters in from `value(name)`, and the transposed channel weights. */
function loadParams(config: SideConfig, p: HostParams, value: (name: string) => Float32Array): void {
  const put = (view: Float32Array, name: string): void => {
    const v = value(name);
    if (v.length !== view.length) throw new LosaError(`side network parameter ${name} has ${v.length} values, expected ${view.length}`);
    view.set(v);
  };
  p.blocks.forEach((b, l) => {
    for (const [suffix, field] of Object.entries(BLOCK_FIELDS)) if (b[field].length > 0) put(b[field], `blocks.${l}.${suffix}`);
    transposeInto(b.c1W, config.rank, config.width, b.c1T);
    transposeInto(b.c2W, config.width, config.rank, b.c2T);
  });
  for (const [name, field] of Object.entries(HEAD_FIELDS)) put(p.head[field], name);
}

/**
 * The gradient as name → values in PyTorch layouts: views into the workspace, valid until its
 * next call (fc1's weight transposed back into `c1Out`).
 */
function gradientMap(config: SideConfig, g: HostParams, c1Out: Float32Array[]): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  g.blocks.forEach((p, l) => {
    for (const [suffix, field] of Object.entries(BLOCK_FIELDS)) {
      const name = `blocks.${l}.${suffix}`;
      if (field === 'c1W') out.set(name, transposeInto(p.c1T, config.width, config.rank, c1Out[l]!));
      else if (p[field].length > 0) out.set(name, p[field]);
    }
  });
  for (const [name, field] of Object.entries(HEAD_FIELDS)) out.set(name, g.head[field]);
  return out;
}

/**
 * Where the parameters come from: their values by name, and optionally a key (the identities of
 * the tensors' data): a call with the key of the last load skips copying them in again.
 */
export interface ParamSource {
  value(name: string): Float32Array;
  key?: readonly unknown[];
}

/** Everything one clip needs, in the memory of its own kernels; made once per network shape. */
interface HostWorkspace {
  dims: HostDims;
  params: HostParams;
  grads: HostParams;
  c1Out: Float32Array[]; // per block, channel.fc1's weight gradient [r, D]
  loadedKey?: readonly unknown[];
  saved: HostBlockSaved[]; // one per block
  scratch: HostScratch;
  s: Float32Array; // [T, P, D] the side state; in the backward, its gradient
  head: { xhat: Float32Array; rstd: Float32Array; pooled: Float32Array; logits: Float32Array; dz: Float32Array };
}

const workspaces = new WeakMap<SideConfig, HostWorkspace>();

function workspace(config: SideConfig): HostWorkspace {
  let ws = workspaces.get(config);
  if (ws !== undefined) return ws;
  const dims: HostDims = {
    T: config.numFrames, P: config.tokens, D: config.width, rt: config.temporalRank, rs: config.spatialRank,
    r: config.rank, eps: config.layerNormEps, act: config.activation ?? 'gelu',
  };
  const n = dims.T * dims.P * dims.D, K = config.numClasses;
  ws = kernelsWith((alloc, kernels) => ({
    dims, params: layoutParams(config, alloc, false), grads: layoutParams(config, alloc, true),
    c1Out: Array.from({ length: config.kind === 'losa' ? config.numLayers : 0 }, () => alloc(config.rank * config.width)),
    saved: Array.from({ length: config.kind === 'losa' ? config.numLayers : 0 }, () => hostBlockSaved(dims, alloc)),
    scratch: hostScratch(dims, alloc, kernels), s: alloc(n),
    head: { xhat: alloc(n), rstd: alloc(dims.T * dims.P), pooled: alloc(dims.D), logits: alloc(K), dz: alloc(K) },
  }));
  workspaces.set(config, ws);
  return ws;
}

/** The clips of `clips` (each [T, L, P, D], several per array allowed) as one view each. */
function clipViews(clips: readonly Float32Array[], config: SideConfig): Float32Array[] {
  const per = config.numFrames * config.numLayers * config.tokens * config.width;
  const views: Float32Array[] = [];
  for (const a of clips) for (let o = 0; o < a.length; o += per) views.push(a.subarray(o, o + per));
  return views;
}

/** One clip's logits into ws.head.logits, every block's forward kept for the backward. */
function clipForward(clip: Float32Array, p: HostParams, config: SideConfig, ws: HostWorkspace): void {
  const { T, P, D } = ws.dims;
  const L = config.numLayers, PD = P * D;
  const losa = config.kind === 'losa';
  ws.s.fill(0);
  if (losa) {
    for (let l = 0; l < L; l++) blockForward(clip, l * PD, L * PD, ws.s, p.blocks[l]!, ws.dims, ws.saved[l]!, ws.scratch);
  }
  const { xhat, rstd, pooled, logits } = ws.head;
  const y = ws.scratch.z0; // [T, P, D]
  layerNormRows(clip, (L - 1) * PD, L * PD, losa ? ws.s : undefined, p.head.normW, p.head.normB, ws.dims, xhat, rstd, y);
  pooled.fill(0);
  for (let n = 0; n < T * P; n++) for (let c = 0; c < D; c++) pooled[c] += y[n * D + c]!;
  for (let c = 0; c < D; c++) pooled[c] /= T * P;
  logits.set(p.head.b);
  dotRows(ws.scratch.k, logits, 0, 1, p.head.W, 0, logits.length, pooled, 0, D); // logits += W·pooled
}

/**
 * The smoothed cross entropy of ws.head.logits against `label`, and its gradient times `scale`
 * into ws.head.dz: (softmax − targets)·scale, targets = (1 − ε)·onehot + ε/K.
 */
function clipLoss(ws: HostWorkspace, label: number, smoothing: number, scale: number): number {
  const { logits, dz } = ws.head;
  const K = logits.length;
  let max = -Infinity;
  for (let k = 0; k < K; k++) max = Math.max(max, logits[k]!);
  let total = 0;
  for (let k = 0; k < K; k++) total += Math.exp(logits[k]! - max);
  const lse = max + Math.log(total);
  let loss = 0;
  for (let k = 0; k < K; k++) {
    const target = (k === label ? 1 - smoothing : 0) + smoothing / K;
    loss -= target * (logits[k]! - lse);
    dz[k] = (Math.exp(logits[k]! - lse) - target) * scale;
  }
  return loss;
}

/** Back from ws.head.dz through the head and every block, adding into `g`. */
function clipBackward(p: HostParams, g: HostParams, config: SideConfig, ws: HostWorkspace): void {
  const { T, P, D } = ws.dims;
  const { xhat, rstd, pooled, dz } = ws.head;
  const { k } = ws.scratch;
  for (let j = 0; j < dz.length; j++) g.head.b[j] += dz[j]!;
  mixRows(k, g.head.W, 0, dz, 1, 1, dz.length, 1, pooled, 0, D); // d W += dz ⊗ pooled
  const dy = ws.scratch.g; // [T, P, D]: every row of the clip gets d pooled / (T·P)
  dy.fill(0, 0, D);
  mixRows(k, dy, 0, dz, 1, 1, 1, dz.length, p.head.W, 0, D); // d pooled = dzᵀ·W, into dy's first row
  for (let c = 0; c < D; c++) dy[c] /= T * P;
  for (let n = 1; n < T * P; n++) dy.copyWithin(n * D, 0, D);
  const losa = config.kind === 'losa';
  ws.s.fill(0); // now d loss / d s_L
  layerNormRowsBackward(dy, xhat, rstd, p.head.normW, T * P, D, g.head.normW, g.head.normB, losa ? ws.s : undefined);
  if (!losa) return;
  for (let l = config.numLayers - 1; l >= 0; l--) {
    blockBackward(ws.s, p.blocks[l]!, ws.dims, ws.saved[l]!, ws.scratch, g.blocks[l]!, l > 0);
  }
}

export interface HostGradients {
  /** Mean smoothed cross entropy over the clips. */
  loss: number;
  /** Logits [B·K], clip by clip. */
  logits: Float32Array;
  /** Gradient of the mean loss by parameter name, PyTorch layouts: views valid until the next call. */
  grads: Map<string, Float32Array>;
}

/** Copies the parameters into the workspace unless the source's key says they are there already. */
function load(config: SideConfig, ws: HostWorkspace, source: ParamSource): void {
  const { key } = source;
  const same = key !== undefined && ws.loadedKey !== undefined && key.length === ws.loadedKey.length && key.every((k, i) => k === ws.loadedKey![i]);
  if (same) return;
  ws.loadedKey = undefined; // a failed load leaves nothing that looks loaded
  loadParams(config, ws.params, source.value);
  ws.loadedKey = key;
}

/**
 * Loss, logits and gradients of a call's clips (B × [T, L, P, D]) against `labels` [B], with the
 * parameters from `source`.
 */
export function hostGradients(
  config: SideConfig, source: ParamSource, clips: readonly Float32Array[], labels: ArrayLike<number>, smoothing: number,
): HostGradients {
  if (!(smoothing >= 0 && smoothing < 1)) throw expected('label smoothing', 'a number in [0, 1)', smoothing);
  const views = clipViews(clips, config);
  if (labels.length !== views.length) throw new LosaError(`labels have ${labels.length} entries for a batch of ${views.length}`);
  const K = config.numClasses;
  const ws = workspace(config);
  load(config, ws, source);
  for (const b of ws.grads.blocks) for (const v of Object.values(b)) v.fill(0);
  for (const v of Object.values(ws.grads.head)) v.fill(0);
  const logits = new Float32Array(views.length * K);
  let loss = 0;
  views.forEach((clip, i) => {
    const label = labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= K) throw new LosaError(`label ${label} is not a class index below ${K}`);
    clipForward(clip, ws.params, config, ws);
    logits.set(ws.head.logits, i * K);
    loss += clipLoss(ws, label, smoothing, 1 / views.length) / views.length;
    clipBackward(ws.params, ws.grads, config, ws);
  });
  return { loss, logits, grads: gradientMap(config, ws.grads, ws.c1Out) };
}

/** Logits [B·K] of B × [T, L, P, D] clips, the parameters from `source`. */
export function hostLogits(config: SideConfig, source: ParamSource, clips: readonly Float32Array[]): Float32Array {
  const views = clipViews(clips, config);
  const ws = workspace(config);
  load(config, ws, source);
  const K = config.numClasses;
  const logits = new Float32Array(views.length * K);
  views.forEach((clip, i) => {
    clipForward(clip, ws.params, config, ws);
    logits.set(ws.head.logits, i * K);
  });
  return logits;
}
