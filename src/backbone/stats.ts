// What a backbone costs: exact parameter count, FLOPs, weight and activation memory, and the
// chunk size (frames per session.run) that fits a memory budget. All computed from the config.
import type { BackboneConfig } from './config.js';
import { gridSize, positionCount, tokenCount, withDefaults } from './config.js';

/**
 * Exact parameter count of the backbone alone (patch embedding, class token, registers, position
 * embedding, ln_pre, the blocks with their LayerScale, and the final LayerNorm; no classifier
 * head, projection or attention-pool head), as timm and Hugging Face count it. ViT-B/16 at 224:
 * 85,798,656 (timm's 86,567,656 less its 769,000-weight head). The final LayerNorm is counted
 * because it is part of the standard backbone, although the features are taken before it.
 */
export function countBackboneParams(config: BackboneConfig): number {
  const c = withDefaults(config);
  const { patchSize: p, width: d, depth, mlpDim: m } = c;
  const patchEmbed = 3 * p * p * d + (c.patchBias ? d : 0);
  const tokens = (c.classToken ? d : 0) + c.registers * d;
  const posEmbed = positionCount(c) * d;
  const lnPre = c.lnPre ? 2 * d : 0;
  const block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * m + m) + (m * d + d) + (c.layerScale ? 2 * d : 0);
  return patchEmbed + tokens + posEmbed + lnPre + depth * block + 2 * d;
}

/**
 * Floating-point operations per frame, counted as 2 × multiply-adds of the matrix products
 * (patch embedding, qkv, attention scores and mixing, projection, MLP). Tables from timm and
 * fvcore quote multiply-adds as "FLOPs": ViT-B/16 is 17.6 G there and 35.1 G here.
 * `blocks` limits the count to the first blocks (only those up to the last tapped layer run).
 */
export function flopsPerFrame(config: BackboneConfig, blocks = config.depth): number {
  const { patchSize: p, width: d, mlpDim: m } = config;
  const n = tokenCount(config);
  const patches = gridSize(config) ** 2;
  const patchEmbed = 2 * patches * 3 * p * p * d;
  const perBlock = 2 * n * d * 3 * d + 2 * 2 * n * n * d + 2 * n * d * d + 2 * 2 * n * d * m;
  return patchEmbed + blocks * perBlock;
}

/**
 * Working memory of one frame inside a session.run, in bytes: 4 × (12·n·D + 6·n·M + 2·H·n² + 3·S²)
 * for n tokens, width D, MLP M, H heads, S pixels a side. The terms are what the graph holds
 * (residual, LayerNorm, q/k/v, attention scores and probabilities, the MLP's hidden layer before
 * and after GELU, the frame); the factors are calibrated against onnxruntime's measured peaks
 * (VmHWM at chunk 16 less chunk 1, ViT-Ti/16 to L/16: 4.5, 9.2, 18.5 and 33.5 MiB per frame),
 * which run 2–3 times the tensors' own size because of the arena's rounding.
 */
export function activationBytesPerFrame(config: BackboneConfig): number {
  const { width: d, mlpDim: m, heads: h, imageSize: s } = config;
  const n = tokenCount(config);
  return 4 * (12 * n * d + 6 * n * m + 2 * h * n * n + 3 * s * s);
}

/** Memory that does not grow with the chunk: the Node.js process and the onnxruntime library. */
export const RUNTIME_OVERHEAD_BYTES = 256 * 1024 * 1024;

/** Weight memory in the session (float32), plus the runtime: what a chunk of 0 frames costs. */
export function fixedBytes(config: BackboneConfig): number {
  return countBackboneParams(config) * 4 + RUNTIME_OVERHEAD_BYTES;
}

/** Largest chunk whose estimated peak fits `budgetBytes`, at most `max`; 0 when even the weights do not fit. */
export function chunkForBudget(config: BackboneConfig, budgetBytes: number, max = 256): number {
  const free = budgetBytes - fixedBytes(config);
  if (free <= 0) return 0;
  return Math.max(0, Math.min(max, Math.floor(free / activationBytesPerFrame(config))));
}

/** Estimated peak memory of a session running `chunk` frames at a time. */
export function peakBytesForChunk(config: BackboneConfig, chunk: number): number {
  return fixedBytes(config) + chunk * activationBytesPerFrame(config);
}

/** The config's shape, then what it costs. */
export interface BackboneStats extends Pick<BackboneConfig, 'imageSize' | 'patchSize' | 'width' | 'depth' | 'heads' | 'mlpDim'> {
  name: string;
  tokens: number;
  params: number;
  gflopsPerFrame: number;
  weightBytesFp32: number;
  weightBytesFp16: number;
  activationBytesPerFrame: number;
  memoryBudget: number;
  /** Frames per session.run that fit the budget; 0 when the weights alone do not fit. */
  chunk: number;
  /** Estimated peak memory at that chunk. */
  peakBytes: number;
  frames: number;
  gflopsPerClip: number;
  runsPerClip: number;
}

/** Everything `losa info` prints about one config. */
export function backboneStats(config: BackboneConfig, memoryBudget: number, frames: number): BackboneStats {
  const params = countBackboneParams(config);
  const chunk = chunkForBudget(config, memoryBudget);
  const gflops = flopsPerFrame(config) / 1e9;
  return {
    name: config.name ?? 'custom',
    imageSize: config.imageSize,
    patchSize: config.patchSize,
    width: config.width,
    depth: config.depth,
    heads: config.heads,
    mlpDim: config.mlpDim,
    tokens: tokenCount(config),
    params,
    gflopsPerFrame: gflops,
    weightBytesFp32: params * 4,
    weightBytesFp16: params * 2,
    activationBytesPerFrame: activationBytesPerFrame(config),
    memoryBudget,
    chunk,
    peakBytes: peakBytesForChunk(config, chunk),
    frames,
    gflopsPerClip: gflops * frames,
    runsPerClip: chunk > 0 ? Math.ceil(frames / Math.min(chunk, frames)) : 0,
  };
}
