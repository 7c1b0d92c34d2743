// Backbone weights: from a safetensors file, a shard index or a model folder (F32, F16 or BF16;
// timm, Hugging Face or open_clip names), checked against the config from the headers alone,
// then read tensor by tensor, converted to the graph's float32 layout and handed to a sink one at
// a time, so that only one tensor (plus its source) is in memory at once; or seeded random. The
// sha256 of the bytes as read identifies the weights.
import { createHash, type Hash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { LosaError } from '../errors.js';
import { createRng } from '../random.js';
import { toFloat32 } from '../safetensors.js';
import type { BackboneConfig } from './config.js';
import { gridSize } from './config.js';
import { findFolderWeights } from './folder.js';
import { graphWeightSpecs, type WeightSpec } from './graph.js';
import { detectNaming, isUnused, namingLabel, NAMING_SCHEMES, transposeInto, type WeightNaming } from './naming.js';
import { namingPlan, type NamingPlan, type Recipe } from './plan.js';
import { fitPositionEmbedding, type PosResample } from './posembed.js';
import { openTensorSource, type TensorSource } from './shards.js';

export type WeightSink = (spec: WeightSpec, data: Float32Array) => Promise<void>;

export interface LoadedWeights {
  naming: WeightNaming;
  /** sha256 hex of the tensors used: names, dtypes, shapes and bytes, in reading order. */
  sha256: string;
  /** Grid of the checkpoint's position embedding (resampled when it differs from the config's). */
  sourceGrid: number;
  /** How the position embedding was resampled, when its grid differed from the config's. */
  resampled?: PosResample;
  /** Bytes read from the file(s). */
  bytesRead: number;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

function listSome(names: string[], max = 6): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} (+${names.length - max} more)` : shown;
}

/** Where the file's position embedding rows go: its prefix rows (class token, registers) and grid. */
export interface PosLayout {
  /** Rows before the patches: 0, 1 (class token) or 1 + R / R (class token and registers). */
  prefix: number;
  /** Whether the prefix rows include the registers' (folded into the register tokens). */
  withRegisters: boolean;
  grid: number;
}

/** The plan checked against a file's header: what is used, what is ignored, where pos rows go. */
export interface CheckedPlan {
  plan: NamingPlan;
  pos: PosLayout;
  /** Tensors in the file that the features never use (heads, other towers, final norms …). */
  ignored: string[];
}

/** Read the position embedding's layout from its shape; a problem string when it fits nothing. */
function posLayout(shape: number[], config: BackboneConfig): PosLayout | string {
  const { width: d } = config;
  const rows = shape.length === 3 && shape[0] === 1 ? shape[1]! : shape.length === 2 ? shape[0]! : -1;
  const cls = config.classToken ? 1 : 0;
  const reg = config.registers ?? 0;
  const square = (k: number): number => (k > 0 && Number.isInteger(Math.sqrt(k)) ? Math.sqrt(k) : 0);
  const candidates = [...new Set([...(reg > 0 ? [cls + reg] : []), cls, 0])];
  const fits = candidates.filter((pre) => square(rows - pre) > 0);
  const pre = fits.find((k) => square(rows - k) === gridSize(config)) ?? fits[0];
  if (rows < 0 || shape[shape.length - 1] !== d || pre === undefined) {
    return `is [${shape.join(', ')}], expected [1, ${cls ? '1 + ' : ''}g², ${d}] or [${cls ? '1 + ' : ''}g², ${d}] for a g×g patch grid`;
  }
  return { prefix: pre, withRegisters: reg > 0 && pre === cls + reg, grid: square(rows - pre) };
}

/** How many blocks the file holds, for a clearer message when depths differ. */
function fileDepth(names: string[], plan: NamingPlan): number {
  let max = -1;
  for (const n of names) {
    const m = n.startsWith(plan.naming.prefix) ? plan.scheme.blockPattern.exec(n.slice(plan.naming.prefix.length)) : null;
    if (m && m.index === 0) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

/**
 * Check a file against a config before a byte of data is read: the naming, every tensor the
 * config needs (present, float, of the right shape), nothing unexpected besides what the features
 * never use. Throws one line listing what differs.
 */
export function checkWeights(st: TensorSource, config: BackboneConfig): CheckedPlan {
  const names = st.names();
  const naming = detectNaming(names);
  if (!naming) {
    const markers = NAMING_SCHEMES.map((s) => `${s.label.replace(/ names$/, '')} (${s.embeddings(s.prefixes[0]!).patch}.weight)`).join(', ');
    throw new LosaError(`${st.path}: not a ViT weights file: found none of the known tensor names: ${markers} (first names: ${listSome(names, 4) || 'none'})`);
  }
  const plan = namingPlan(naming, config);
  const present = new Set(names);
  const missing: string[] = plan.absent.map((what) => `${what} (the config has one; ${namingLabel(naming)} have none)`);
  const shapes: string[] = [];
  const dtypes: string[] = [];
  for (const [name, shape] of [...plan.expected, [plan.pos.name, undefined] as const]) {
    if (!present.has(name)) {
      missing.push(name);
      continue;
    }
    const info = st.info(name);
    if (!FLOAT_DTYPES.has(info.dtype)) dtypes.push(`${name} is ${info.dtype}`);
    if (shape && (info.shape.length !== shape.length || info.shape.some((v, i) => v !== shape[i]))) {
      shapes.push(`${name} is [${info.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
  }
  let pos: PosLayout = { prefix: config.classToken ? 1 : 0, withRegisters: false, grid: gridSize(config) };
  if (present.has(plan.pos.name)) {
    const layout = posLayout(st.info(plan.pos.name).shape, config);
    if (typeof layout === 'string') shapes.push(`${plan.pos.name} ${layout}`);
    else pos = layout;
  }
  const known = (n: string): boolean => plan.expected.has(n) || n === plan.pos.name;
  const ignored = names.filter((n) => !known(n) && isUnused(naming, n));
  const unexpected = names.filter((n) => !known(n) && !isUnused(naming, n));
  if (missing.length || shapes.length || dtypes.length || unexpected.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing ${missing.length}: ${listSome(missing)}`);
    if (unexpected.length) parts.push(`unexpected ${unexpected.length}: ${listSome(unexpected)}`);
    if (shapes.length) parts.push(`shape: ${listSome(shapes, 3)}`);
    if (dtypes.length) parts.push(`dtype (want F32, F16 or BF16): ${listSome(dtypes, 3)}`);
    const depth = fileDepth(names, plan);
    const depthNote = depth !== config.depth && depth > 0 ? ` (the file has ${depth} blocks, the config ${config.depth})` : '';
    throw new LosaError(`${st.path}: weights do not match ${config.name ?? 'the backbone config'} (width ${config.width}, depth ${config.depth}, ${namingLabel(naming)})${depthNote}: ${parts.join('; ')}`);
  }
  return { plan, pos, ignored };
}

/** A weights path as given: a .safetensors file, a shard index, or a model folder holding either. */
export async function openWeights(file: string): Promise<TensorSource> {
  const isDir = await fs.stat(file).then((s) => s.isDirectory(), () => false);
  return openTensorSource(isDir ? await findFolderWeights(file) : file);
}

/** Reads file tensors as float32, hashing what it reads. */
class TensorReader {
  readonly hash: Hash = createHash('sha256');
  bytesRead = 0;
  constructor(private readonly st: TensorSource) {}

  async read(name: string): Promise<Float32Array> {
    const info = this.st.info(name);
    const raw = await this.st.readRaw(name);
    this.hash.update(`${name}\0${info.dtype}\0${info.shape.join(',')}\0`);
    this.hash.update(raw);
    this.bytesRead += raw.byteLength;
    return toFloat32(raw, info.dtype, `${this.st.path}: tensor "${name}"`);
  }

  shape(name: string): number[] {
    return this.st.info(name).shape;
  }
}

/** The position embedding's file rows less the registers' (those go to the register tokens). */
function withoutRegisterRows(pos: Float32Array, layout: PosLayout, config: BackboneConfig): Float32Array {
  if (!layout.withRegisters) return pos;
  const d = config.width;
  const cls = config.classToken ? 1 : 0;
  const out = new Float32Array(pos.length - (config.registers ?? 0) * d); // [cls + g², D]
  out.set(pos.subarray(0, cls * d));
  out.set(pos.subarray(layout.prefix * d), cls * d);
  return out;
}

/** Make one graph weight from its recipe. */
async function buildWeight(recipe: Recipe, reader: TensorReader, checked: CheckedPlan, config: BackboneConfig): Promise<Float32Array> {
  const d = config.width;
  const { pos } = checked;
  switch (recipe.kind) {
    case 'copy':
      return reader.read(recipe.source);
    case 'transpose': {
      const [rows, cols] = reader.shape(recipe.source) as [number, number];
      const out = new Float32Array(rows * cols); // [in, out]
      transposeInto(await reader.read(recipe.source), rows, cols, out, rows, 0);
      return out;
    }
    case 'transpose-concat': {
      const out = new Float32Array(d * 3 * d); // [D, 3D]: q | k | v
      for (let j = 0; j < 3; j++) transposeInto(await reader.read(recipe.sources[j]), d, d, out, 3 * d, j * d);
      return out;
    }
    case 'concat': {
      const out = new Float32Array(3 * d); // [3D]
      for (let j = 0; j < 3; j++) out.set(await reader.read(recipe.sources[j]), j * d);
      return out;
    }
    case 'reg': {
      const reg = await reader.read(recipe.source); // [1, R, D]
      if (!pos.withRegisters) return reg;
      const rows = await reader.read(checked.plan.pos.name);
      const first = (config.classToken ? 1 : 0) * d;
      for (let i = 0; i < reg.length; i++) reg[i]! += rows[first + i]!;
      return reg;
    }
    case 'pos': {
      const rows = withoutRegisterRows(await reader.read(recipe.source), pos, config);
      const cls = config.classToken ? 1 : 0;
      const srcPrefix = pos.withRegisters ? cls : pos.prefix;
      return fitPositionEmbedding(rows, srcPrefix, pos.grid, cls, gridSize(config), d, checked.plan.scheme.resample(config));
    }
  }
}

/**
 * Read, check and convert the weights of `file` (a .safetensors file, a shard index or a model
 * folder) for the first `blocks` blocks of `config`, calling `sink` once per graph weight in
 * graph order. Every block of the config must be in the file (a file for another depth or width
 * is refused in one line listing what differs); nothing is read before the whole check passes.
 */
export async function loadWeightsFile(file: string, config: BackboneConfig, blocks: number, sink: WeightSink): Promise<LoadedWeights> {
  const st = await openWeights(file);
  try {
    const checked = checkWeights(st, config);
    const reader = new TensorReader(st);
    for (const spec of graphWeightSpecs(config, blocks)) {
      await sink(spec, await buildWeight(checked.plan.recipes.get(spec.name)!, reader, checked, config));
    }
    const resampled = checked.pos.grid !== gridSize(config) ? checked.plan.scheme.resample(config) : undefined;
    return {
      naming: checked.plan.naming, sha256: reader.hash.digest('hex'), sourceGrid: checked.pos.grid,
      ...(resampled ? { resampled } : {}), bytesRead: reader.bytesRead,
    };
  } finally {
    await st.close();
  }
}

/** What `losa info` tells of a weights file: its naming, files, and the tensors it ignores. */
export interface WeightsReport {
  naming: WeightNaming;
  files: string[];
  sourceGrid: number;
  ignored: string[];
  /** Tensors used, and their dtypes. */
  used: number;
  dtypes: string[];
}

/** Check a weights file against a config from its headers alone (no data is read). */
export async function inspectWeights(file: string, config: BackboneConfig): Promise<WeightsReport> {
  const st = await openWeights(file);
  try {
    const checked = checkWeights(st, config);
    const used = [...checked.plan.expected.keys(), checked.plan.pos.name];
    return {
      naming: checked.plan.naming, files: st.files, sourceGrid: checked.pos.grid, ignored: checked.ignored, used: used.length,
      dtypes: [...new Set(used.map((n) => st.info(n).dtype))].sort(),
    };
  } finally {
    await st.close();
  }
}

/** 65,536 quantiles of the standard normal truncated to ±2σ, for fast seeded init. */
let truncNormalTable: Float32Array | undefined;

/** Inverse of the standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const e = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((e[0]! * q + e[1]!) * q + e[2]!) * q + e[3]!) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

function truncNormal(): Float32Array {
  if (!truncNormalTable) {
    // Φ(-2) and Φ(2): the table spans the probability mass between them evenly.
    const lo = 0.022750131948179195, hi = 1 - lo;
    truncNormalTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) truncNormalTable[i] = normalQuantile(lo + ((i + 0.5) / 65536) * (hi - lo));
  }
  return truncNormalTable;
}

/**
 * Seeded random weights as timm initialises a ViT: weights, class token and position embedding
 * trunc-normal with std 0.02 (cut at ±2σ), biases 0, LayerNorm scales 1. Each tensor has its own
 * stream (forked from the seed by name), so a tensor does not depend on which others are built.
 * Billions of values are needed for ViT-e: a xorshift generator indexes a quantile table.
 */
export async function randomWeights(config: BackboneConfig, blocks: number, seed: number, sink: WeightSink): Promise<void> {
  const table = truncNormal();
  for (const spec of graphWeightSpecs(config, blocks)) {
    const count = spec.dims.reduce((a, v) => a * v, 1);
    const data = new Float32Array(count);
    if (/\.bias$/.test(spec.name)) {
      // zeros
    } else if (/^(block\d+\.ln\d|ln_pre)\.weight$|^block\d+\.ls\d$/.test(spec.name)) {
      // LayerNorm scales and LayerScale γ start at 1, so a random tower behaves like a plain ViT.
      data.fill(1);
    } else {
      let s = createRng(seed).fork(spec.name).int(2 ** 32) | 1;
      for (let i = 0; i < count; i += 2) {
        s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
        const u = s >>> 0;
        data[i] = 0.02 * table[u & 0xffff]!;
        if (i + 1 < count) data[i + 1] = 0.02 * table[u >>> 16]!;
      }
    }
    await sink(spec, data);
  }
}

/** The digest that identifies a backbone's output: config, weights (or seed), pooling, layers. */
export function backboneDigest(configJson: string, weights: string, pool: string, layers: string): string {
  const h: Hash = createHash('sha256');
  h.update(`losa-backbone-v1\0${configJson}\0${weights}\0${pool}\0${layers}`);
  return h.digest('hex');
}
