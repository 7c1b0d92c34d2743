// Backbone weights: from a safetensors file (F32, F16 or BF16; Hugging Face or timm names),
// read tensor by tensor, checked against the config, converted to the graph's float32 layout
// and handed to a sink one at a time, so that only one tensor (plus its source) is in memory at
// once; or seeded random. The sha256 of the bytes as read identifies the weights.
import { createHash, type Hash } from 'node:crypto';
import { LosaError } from '../errors.js';
import { createRng } from '../random.js';
import { SafetensorsFile, toFloat32 } from '../safetensors.js';
import type { BackboneConfig } from './config.js';
import { gridSize } from './config.js';
import { graphWeightSpecs, type WeightSpec } from './graph.js';
import { detectNaming, namingLabel, namingPlan, transposeInto, type WeightNaming } from './naming.js';
import { fitPositionEmbedding } from './posembed.js';

export type WeightSink = (spec: WeightSpec, data: Float32Array) => Promise<void>;

export interface LoadedWeights {
  naming: WeightNaming;
  /** sha256 hex of the tensors used: names, dtypes, shapes and bytes, in reading order. */
  sha256: string;
  /** Grid of the checkpoint's position embedding (resampled when it differs from the config's). */
  sourceGrid: number;
  /** Bytes read from the file. */
  bytesRead: number;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

function listSome(names: string[], max = 6): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} (+${names.length - max} more)` : shown;
}

/** How many blocks a list of tensor names holds, for a clearer message when depths differ. */
function fileDepth(names: string[], naming: WeightNaming): number {
  const re = naming.kind === 'timm' ? /^blocks\.(\d+)\./ : new RegExp(`^${naming.prefix.replace('.', '\\.')}encoder\\.layer\\.(\\d+)\\.`);
  let max = -1;
  for (const n of names) {
    const m = re.exec(n);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

/**
 * Read, check and convert the weights of `file` for the first `blocks` blocks of `config`,
 * calling `sink` once per graph weight in graph order. Every block of the config must be in the
 * file (a file for another depth or width is refused in one line listing what differs).
 */
export async function loadWeightsFile(
  file: string, config: BackboneConfig, blocks: number, sink: WeightSink,
): Promise<LoadedWeights> {
  const st = await SafetensorsFile.open(file);
  try {
    const names = st.names();
    const naming = detectNaming(names);
    if (!naming) {
      throw new LosaError(`${file}: not a ViT weights file: found neither Hugging Face (embeddings.patch_embeddings.projection.weight) nor timm (patch_embed.proj.weight) tensor names (first names: ${listSome(names, 4) || 'none'})`);
    }
    const plan = namingPlan(naming, config);
    const configName = config.name ?? 'the backbone config';

    // Check everything before reading a byte of data.
    const missing: string[] = [];
    const shapes: string[] = [];
    const dtypes: string[] = [];
    const present = new Set(names);
    for (const [name, shape] of [...plan.expected, [plan.posSource, undefined] as const]) {
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
    let sourceGrid = gridSize(config);
    let sourcePrefix = config.classToken ? 1 : 0;
    if (present.has(plan.posSource)) {
      const shape = st.info(plan.posSource).shape;
      const count = shape.length === 3 && shape[0] === 1 ? shape[1]! : -1;
      const square = (k: number): number => (k > 0 && Number.isInteger(Math.sqrt(k)) ? Math.sqrt(k) : 0);
      const prefixes = config.classToken ? [1, 0] : [0];
      const fit = prefixes.find((pre) => square(count - pre) > 0);
      if (count < 0 || shape[2] !== config.width || fit === undefined) {
        const want = config.classToken ? `[1, 1 + g², ${config.width}] or [1, g², ${config.width}]` : `[1, g², ${config.width}]`;
        shapes.push(`${plan.posSource} is [${shape.join(', ')}], expected ${want}`);
      } else {
        sourcePrefix = fit;
        sourceGrid = square(count - fit);
      }
    }
    const unexpected = names.filter((n) => !plan.expected.has(n) && n !== plan.posSource && !plan.ignored(n));
    if (missing.length || shapes.length || dtypes.length || unexpected.length) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing ${missing.length}: ${listSome(missing)}`);
      if (unexpected.length) parts.push(`unexpected ${unexpected.length}: ${listSome(unexpected)}`);
      if (shapes.length) parts.push(`shape: ${listSome(shapes, 3)}`);
      if (dtypes.length) parts.push(`dtype (want F32, F16 or BF16): ${listSome(dtypes, 3)}`);
      const depth = fileDepth(names, naming);
      const depthNote = depth !== config.depth && depth > 0 ? ` (the file has ${depth} blocks, the config ${config.depth})` : '';
      throw new LosaError(`${file}: weights do not match ${configName} (width ${config.width}, depth ${config.depth}, ${namingLabel(naming)})${depthNote}: ${parts.join('; ')}`);
    }

    const hash = createHash('sha256');
    let bytesRead = 0;
    const read = async (name: string): Promise<Float32Array> => {
      const info = st.info(name);
      const raw = await st.readRaw(name);
      hash.update(`${name}\0${info.dtype}\0${info.shape.join(',')}\0`);
      hash.update(raw);
      bytesRead += raw.byteLength;
      return toFloat32(raw, info.dtype, `${file}: tensor "${name}"`);
    };
    const { width: d } = config;
    for (const spec of graphWeightSpecs(config, blocks)) {
      const recipe = plan.recipes.get(spec.name)!;
      let data: Float32Array;
      switch (recipe.kind) {
        case 'copy':
          data = await read(recipe.source);
          break;
        case 'transpose': {
          const [rows, cols] = st.info(recipe.source).shape as [number, number];
          const src = await read(recipe.source);
          data = new Float32Array(rows * cols); // [in, out]
          transposeInto(src, rows, cols, data, rows, 0);
          break;
        }
        case 'transpose-concat': {
          data = new Float32Array(d * 3 * d); // [D, 3D]: q | k | v
          for (let j = 0; j < 3; j++) transposeInto(await read(recipe.sources[j]), d, d, data, 3 * d, j * d);
          break;
        }
        case 'concat': {
          data = new Float32Array(3 * d); // [3D]
          for (let j = 0; j < 3; j++) data.set(await read(recipe.sources[j]), j * d);
          break;
        }
        case 'pos':
          data = fitPositionEmbedding(await read(recipe.source), sourcePrefix, sourceGrid, config.classToken ? 1 : 0, gridSize(config), d);
          break;
      }
      await sink(spec, data);
    }
    return { naming, sha256: hash.digest('hex'), sourceGrid, bytesRead };
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
    } else if (/^block\d+\.ln\d\.weight$/.test(spec.name)) {
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
