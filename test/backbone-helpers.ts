// Test helpers for the backbone: random timm-named weights, their Hugging Face renaming, and an
// independent reference ViT forward written plainly (float64 loops, no shared code with the
// graph builder) to check the onnxruntime graph against.
import type { BackboneConfig } from '../src/backbone/config.js';
import { createRng } from '../src/random.js';
import { writeSafetensors, type Dtype } from '../src/safetensors.js';

export type Tensors = Map<string, { shape: number[]; data: Float32Array }>;

export function smallConfig(over: Partial<BackboneConfig> = {}): BackboneConfig {
  return {
    name: 'tiny-test',
    imageSize: 32, patchSize: 8, width: 32, depth: 3, heads: 2, mlpDim: 64,
    classToken: true, layerNormEps: 1e-6, gelu: 'exact',
    mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5],
    ...over,
  };
}

/**
 * Random weights under losa's reference names (timm's, with the graph's conventions: pos_embed
 * covers the class token and the patches, registers have none); every parameter non-trivial
 * (biases, LayerNorms and LayerScale too). Heads and a final norm come along, as in real files.
 */
export function makeTimmWeights(config: BackboneConfig, seed: number, posGrid = Math.floor(config.imageSize / config.patchSize)): Tensors {
  const rng = createRng(`weights-${seed}`);
  const { width: d, mlpDim: m, patchSize: p } = config;
  const t: Tensors = new Map();
  const add = (name: string, shape: number[], scale: number, offset = 0): void => {
    const n = shape.reduce((a, v) => a * v, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = offset + scale * rng.normal();
    t.set(name, { shape, data });
  };
  add('patch_embed.proj.weight', [d, 3, p, p], 0.1);
  if (config.patchBias !== false) add('patch_embed.proj.bias', [d], 0.1);
  if (config.classToken) add('cls_token', [1, 1, d], 0.5);
  if (config.registers) add('reg_token', [1, config.registers, d], 0.5);
  add('pos_embed', [1, posGrid * posGrid + (config.classToken ? 1 : 0), d], 0.5);
  if (config.lnPre) {
    add('norm_pre.weight', [d], 0.1, 1);
    add('norm_pre.bias', [d], 0.1);
  }
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}.`;
    add(b + 'norm1.weight', [d], 0.1, 1);
    add(b + 'norm1.bias', [d], 0.1);
    add(b + 'attn.qkv.weight', [3 * d, d], 0.25);
    add(b + 'attn.qkv.bias', [3 * d], 0.1);
    add(b + 'attn.proj.weight', [d, d], 0.2);
    add(b + 'attn.proj.bias', [d], 0.1);
    if (config.layerScale) add(b + 'ls1.gamma', [d], 0.3, 0.8);
    add(b + 'norm2.weight', [d], 0.1, 1);
    add(b + 'norm2.bias', [d], 0.1);
    add(b + 'mlp.fc1.weight', [m, d], 0.2);
    add(b + 'mlp.fc1.bias', [m], 0.1);
    add(b + 'mlp.fc2.weight', [d, m], 0.15);
    add(b + 'mlp.fc2.bias', [d], 0.1);
    if (config.layerScale) add(b + 'ls2.gamma', [d], 0.3, 0.8);
  }
  add('norm.weight', [d], 0.1, 1);
  add('norm.bias', [d], 0.1);
  add('head.weight', [10, d], 0.1);
  add('head.bias', [10], 0.1);
  return t;
}

/** The same weights under Hugging Face ViT names (q, k, v split out of timm's packed qkv). */
export function toHfNames(timm: Tensors, config: BackboneConfig, prefix: '' | 'vit.' = ''): Tensors {
  const d = config.width;
  const out: Tensors = new Map();
  const get = (n: string) => timm.get(n)!;
  const e = `${prefix}embeddings.`;
  out.set(`${e}patch_embeddings.projection.weight`, get('patch_embed.proj.weight'));
  out.set(`${e}patch_embeddings.projection.bias`, get('patch_embed.proj.bias'));
  if (config.classToken) out.set(`${e}cls_token`, get('cls_token'));
  out.set(`${e}position_embeddings`, get('pos_embed'));
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}.`;
    const l = `${prefix}encoder.layer.${i}.`;
    out.set(`${l}layernorm_before.weight`, get(b + 'norm1.weight'));
    out.set(`${l}layernorm_before.bias`, get(b + 'norm1.bias'));
    const qkvW = get(b + 'attn.qkv.weight').data;
    const qkvB = get(b + 'attn.qkv.bias').data;
    ['query', 'key', 'value'].forEach((name, j) => {
      out.set(`${l}attention.attention.${name}.weight`, { shape: [d, d], data: qkvW.slice(j * d * d, (j + 1) * d * d) });
      out.set(`${l}attention.attention.${name}.bias`, { shape: [d], data: qkvB.slice(j * d, (j + 1) * d) });
    });
    out.set(`${l}attention.output.dense.weight`, get(b + 'attn.proj.weight'));
    out.set(`${l}attention.output.dense.bias`, get(b + 'attn.proj.bias'));
    out.set(`${l}layernorm_after.weight`, get(b + 'norm2.weight'));
    out.set(`${l}layernorm_after.bias`, get(b + 'norm2.bias'));
    out.set(`${l}intermediate.dense.weight`, get(b + 'mlp.fc1.weight'));
    out.set(`${l}intermediate.dense.bias`, get(b + 'mlp.fc1.bias'));
    out.set(`${l}output.dense.weight`, get(b + 'mlp.fc2.weight'));
    out.set(`${l}output.dense.bias`, get(b + 'mlp.fc2.bias'));
  }
  out.set(`${prefix}layernorm.weight`, get('norm.weight'));
  out.set(`${prefix}layernorm.bias`, get('norm.bias'));
  if (prefix) {
    out.set('classifier.weight', get('head.weight'));
    out.set('classifier.bias', get('head.bias'));
  }
  return out;
}

export async function writeTensors(file: string, tensors: Tensors, dtype: Dtype = 'F32'): Promise<void> {
  await writeSafetensors(file, [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data, dtype })));
}

export function randomFrames(config: BackboneConfig, n: number, seed: number): Float32Array {
  const rng = createRng(`frames-${seed}`);
  const s = config.imageSize;
  return Float32Array.from({ length: n * 3 * s * s }, () => rng.normal());
}

/** erf to ~1e-12 (Taylor series; |x| ≥ 5 is ±1 to double precision for GELU's purposes). */
export function erf(x: number): number {
  if (Math.abs(x) >= 5) return Math.sign(x);
  let sum = 0, term = x;
  for (let n = 0; n < 120; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
    if (Math.abs(term) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

function gelu(x: number, kind: BackboneConfig['gelu']): number {
  if (kind === 'exact') return 0.5 * x * (1 + erf(x / Math.SQRT2));
  if (kind === 'quick') return x / (1 + Math.exp(-1.702 * x));
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** y[r] = LayerNorm(x[r]) for rows of width D, in float64. */
function layerNormRows(x: Float64Array, D: number, eps: number, gamma: Float32Array, beta: Float32Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / D; r++) {
    let mean = 0;
    for (let i = 0; i < D; i++) mean += x[r * D + i]!;
    mean /= D;
    let v = 0;
    for (let i = 0; i < D; i++) v += (x[r * D + i]! - mean) ** 2;
    v /= D;
    const inv = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < D; i++) y[r * D + i] = (x[r * D + i]! - mean) * inv * gamma[i]! + beta[i]!;
  }
  return y;
}

function linear(x: Float64Array, rows: number, inDim: number, weight: Float32Array, bias: Float32Array, outDim: number): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let acc = bias[o]!;
      for (let i = 0; i < inDim; i++) acc += x[r * inDim + i]! * weight[o * inDim + i]!; // weight [out, in]
      y[r * outDim + o] = acc;
    }
  }
  return y;
}

/** Softmax attention over n tokens with H heads from packed qkv [n, 3D]. */
function attention(qkv: Float64Array, n: number, D: number, H: number): Float64Array {
  const dh = D / H;
  const mixed = new Float64Array(n * D);
  for (let hd = 0; hd < H; hd++) {
    for (let i = 0; i < n; i++) {
      const scores = new Float64Array(n);
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let c = 0; c < dh; c++) s += qkv[i * 3 * D + hd * dh + c]! * qkv[j * 3 * D + D + hd * dh + c]!;
        scores[j] = s / Math.sqrt(dh);
        max = Math.max(max, scores[j]!);
      }
      let z = 0;
      for (let j = 0; j < n; j++) { scores[j] = Math.exp(scores[j]! - max); z += scores[j]!; }
      for (let c = 0; c < dh; c++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += (scores[j]! / z) * qkv[j * 3 * D + 2 * D + hd * dh + c]!;
        mixed[i * D + hd * dh + c] = acc;
      }
    }
  }
  return mixed;
}

/**
 * One frame's tokens entering the blocks [n, D]: class token and patches (conv, optional bias)
 * plus the position embedding, registers inserted after the class token with none, then ln_pre.
 */
function embedFrame(config: BackboneConfig, W: (name: string) => Float32Array, img: Float32Array, posData: ArrayLike<number>): Float64Array {
  const { imageSize: S, patchSize: p, width: D } = config;
  const g = Math.floor(S / p);
  const cls = config.classToken ? 1 : 0;
  const R = config.registers ?? 0;
  const x = new Float64Array((cls + g * g) * D); // [cls + g², D]
  if (cls) for (let i = 0; i < D; i++) x[i] = W('cls_token')[i]!;
  const pw = W('patch_embed.proj.weight');
  const pb = config.patchBias === false ? new Float32Array(D) : W('patch_embed.proj.bias');
  for (let py = 0; py < g; py++) for (let px = 0; px < g; px++) {
    const tok = cls + py * g + px;
    for (let o = 0; o < D; o++) {
      let acc = pb[o]!;
      for (let c = 0; c < 3; c++) for (let ky = 0; ky < p; ky++) for (let kx = 0; kx < p; kx++) {
        acc += pw[((o * 3 + c) * p + ky) * p + kx]! * img[(c * S + py * p + ky) * S + px * p + kx]!;
      }
      x[tok * D + o] = acc;
    }
  }
  for (let i = 0; i < x.length; i++) x[i] += posData[i]!;
  const tokens = new Float64Array((cls + R + g * g) * D); // [cls, registers, patches]
  tokens.set(x.subarray(0, cls * D));
  if (R) tokens.set(W('reg_token'), cls * D);
  tokens.set(x.subarray(cls * D), (cls + R) * D);
  return config.lnPre ? layerNormRows(tokens, D, config.layerNormEps, W('norm_pre.weight'), W('norm_pre.bias')) : tokens;
}

/**
 * Reference ViT forward on reference-named weights (makeTimmWeights), one frame at a time in
 * float64. Returns, per block, the block's output tokens [N, n, D] (class token, registers, then
 * patches row-major). `pos` overrides the position embedding [cls + g², D] (for resampling tests).
 */
export function referenceForward(config: BackboneConfig, w: Tensors, frames: Float32Array, numFrames: number, pos?: Float64Array | Float32Array): Float64Array[] {
  const { imageSize: S, width: D, heads: H, mlpDim: M, layerNormEps: eps } = config;
  const n = Math.floor(S / config.patchSize) ** 2 + (config.classToken ? 1 : 0) + (config.registers ?? 0);
  const W = (name: string) => {
    const t = w.get(name);
    if (!t) throw new Error(`referenceForward: no tensor ${name}`);
    return t.data;
  };
  const outs = Array.from({ length: config.depth }, () => new Float64Array(numFrames * n * D));
  for (let f = 0; f < numFrames; f++) {
    let x = embedFrame(config, W, frames.subarray(f * 3 * S * S, (f + 1) * 3 * S * S), pos ?? W('pos_embed'));
    for (let b = 0; b < config.depth; b++) {
      const B = `blocks.${b}.`;
      const scale = (v: Float64Array, gamma: string): Float64Array => (config.layerScale ? v.map((t, i) => t * W(B + gamma)[i % D]!) : v);
      const h = layerNormRows(x, D, eps, W(B + 'norm1.weight'), W(B + 'norm1.bias'));
      const qkv = linear(h, n, D, W(B + 'attn.qkv.weight'), W(B + 'attn.qkv.bias'), 3 * D); // [n, 3D]
      const attn = scale(linear(attention(qkv, n, D, H), n, D, W(B + 'attn.proj.weight'), W(B + 'attn.proj.bias'), D), 'ls1.gamma');
      for (let i = 0; i < n * D; i++) x[i] += attn[i]!;
      const h2 = layerNormRows(x, D, eps, W(B + 'norm2.weight'), W(B + 'norm2.bias'));
      const hidden = linear(h2, n, D, W(B + 'mlp.fc1.weight'), W(B + 'mlp.fc1.bias'), M);
      for (let i = 0; i < hidden.length; i++) hidden[i] = gelu(hidden[i]!, config.gelu);
      const mlp = scale(linear(hidden, n, M, W(B + 'mlp.fc2.weight'), W(B + 'mlp.fc2.bias'), D), 'ls2.gamma');
      x = x.map((v, i) => v + mlp[i]!);
      outs[b]!.set(x, f * n * D);
    }
  }
  return outs;
}

/** Pool one layer's tokens [N, n, D] as the spec says, written plainly (loops over cells). */
export function referencePool(config: BackboneConfig, tokens: Float64Array, numFrames: number, pool: string): Float64Array {
  const { width: D } = config;
  const g = Math.floor(config.imageSize / config.patchSize);
  const pre = (config.classToken ? 1 : 0) + (config.registers ?? 0); // registers are never pooled
  const n = g * g + pre;
  if (pool === 'none') return tokens;
  const patchMean = (f: number, c: number): number => {
    let s = 0;
    for (let t = pre; t < n; t++) s += tokens[(f * n + t) * D + c]!;
    return s / (g * g);
  };
  const first = (f: number, c: number): number => (config.classToken && pool !== 'mean' ? tokens[f * n * D + c]! : patchMean(f, c));
  const G = pool.startsWith('grid:') ? Number(pool.slice(5)) : 0;
  const P = 1 + G * G;
  const out = new Float64Array(numFrames * P * D);
  for (let f = 0; f < numFrames; f++) {
    for (let c = 0; c < D; c++) out[f * P * D + c] = first(f, c);
    for (let cy = 0; cy < G; cy++) for (let cx = 0; cx < G; cx++) {
      // adaptive average pooling cell edges
      const ys = Math.floor((cy * g) / G), ye = Math.ceil(((cy + 1) * g) / G);
      const xs = Math.floor((cx * g) / G), xe = Math.ceil(((cx + 1) * g) / G);
      for (let c = 0; c < D; c++) {
        let s = 0, k = 0;
        for (let y = ys; y < ye; y++) for (let x = xs; x < xe; x++) { s += tokens[(f * n + pre + y * g + x) * D + c]!; k++; }
        out[(f * P + 1 + cy * G + cx) * D + c] = s / k;
      }
    }
  }
  return out;
}

/** Take layer `l` of a [N, L, P, D] array as [N, P, D]. */
export function layerOf(features: Float32Array, numFrames: number, L: number, P: number, D: number, l: number): Float32Array {
  const out = new Float32Array(numFrames * P * D);
  for (let f = 0; f < numFrames; f++) out.set(features.subarray((f * L + l) * P * D, (f * L + l + 1) * P * D), f * P * D);
  return out;
}

/** max |a - b| / max |b|. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}
