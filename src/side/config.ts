// The side network's shape: what is fixed per trained model and saved with it in run.json.
import { expected } from '../errors.js';

export type SideKind = 'losa' | 'linear';

export interface SideConfig {
  kind: SideKind;
  /** T: frames per clip. */
  numFrames: number;
  /** L: tapped backbone layers (every block by default). */
  numLayers: number;
  /** P: pooled tokens per frame and layer (5 for pooling `grid:2`). */
  tokens: number;
  /** D: backbone width. */
  width: number;
  /** K: classes. */
  numClasses: number;
  /** r: channel-mixer rank (D → r → D). */
  rank: number;
  /** r_t: temporal-mixer rank (T → r_t → T). */
  temporalRank: number;
  /** r_s: spatial-mixer rank (P → r_s → P); unused when P = 1. */
  spatialRank: number;
  layerNormEps: number;
  /**
   * The mixers' activation: 'gelu' (tanh approximation, PyTorch nn.GELU(approximate='tanh');
   * the default, also when absent) or 'quick-gelu' (x·σ(1.702x), ~10% faster to train).
   */
  activation?: 'gelu' | 'quick-gelu';
}

export interface SideShape {
  numFrames: number;
  numLayers: number;
  tokens: number;
  width: number;
  numClasses: number;
}

export const SIDE_DEFAULTS = {
  kind: 'losa',
  rank: 16,
  temporalRank: 4,
  spatialRank: 4,
  layerNormEps: 1e-6,
  activation: 'gelu',
} as const satisfies Partial<SideConfig>;

/** A full config from the data's shape, with the DESIGN.md defaults unless overridden. */
export function defaultSideConfig(shape: SideShape, overrides: Partial<SideConfig> = {}): SideConfig {
  const config: SideConfig = {
    kind: SIDE_DEFAULTS.kind,
    numFrames: shape.numFrames,
    numLayers: shape.numLayers,
    tokens: shape.tokens,
    width: shape.width,
    numClasses: shape.numClasses,
    rank: SIDE_DEFAULTS.rank,
    temporalRank: SIDE_DEFAULTS.temporalRank,
    spatialRank: SIDE_DEFAULTS.spatialRank,
    layerNormEps: SIDE_DEFAULTS.layerNormEps,
    activation: SIDE_DEFAULTS.activation,
  };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value;
  }
  validateSideConfig(config);
  return config;
}

/** Throws a UsageError ("Expected `rank` to be …, got …") for the first bad field. */
export function validateSideConfig(config: SideConfig): void {
  if (config.kind !== 'losa' && config.kind !== 'linear') throw expected('side', '"losa" or "linear"', config.kind);
  const positive: (keyof SideConfig)[] = [
    'numFrames', 'numLayers', 'tokens', 'width', 'numClasses', 'rank', 'temporalRank', 'spatialRank',
  ];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw expected(key, 'a positive integer', value);
    }
  }
  if (config.numClasses < 2) throw expected('numClasses', 'at least 2', config.numClasses);
  if (config.activation !== undefined && config.activation !== 'gelu' && config.activation !== 'quick-gelu') {
    throw expected('activation', '"gelu" or "quick-gelu"', config.activation);
  }
  const eps = config.layerNormEps;
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) throw expected('layerNormEps', 'a positive number', eps);
}

/**
 * Trainable parameters in closed form.
 *   per LoSA block: norm 2D + temporal (2·r_t·T + r_t + T) + spatial (2·r_s·P + r_s + P, none when
 *   P = 1) + channel (2·r·D + r + D);  head: norm 2D + K·D + K.
 * The linear probe has the head only.
 */
export function sideParamCount(config: SideConfig): number {
  const { numFrames: T, numLayers: L, tokens: P, width: D, numClasses: K } = config;
  const head = 2 * D + K * D + K;
  if (config.kind === 'linear') return head;
  const rt = config.temporalRank, rs = config.spatialRank, r = config.rank;
  const temporal = 2 * rt * T + rt + T;
  const spatial = P > 1 ? 2 * rs * P + rs + P : 0;
  const channel = 2 * r * D + r + D;
  return L * (2 * D + temporal + spatial + channel) + head;
}
