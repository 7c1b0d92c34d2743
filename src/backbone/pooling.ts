// Which blocks are tapped (--layers) and how each tapped block's tokens are pooled (--pool).
// Pooling is a fixed linear map over tokens, so it runs inside the graph as one MatMul with a
// constant matrix [P, tokens]: only the pooled tensors leave onnxruntime.
//
// Register tokens (DINOv2 with registers) are left out of every pooled mode: they are scratch
// space the model learned to put global computations in, not image regions, and the paper that
// introduced them discards them at the output. So `cls` is the class token, `mean` the mean of
// the patch tokens and `grid:G` the class token plus patch cells, with or without registers;
// only `none` keeps them, in token order: class token, registers, patches row-major.
import { UsageError } from '../errors.js';
import type { BackboneConfig } from './config.js';
import { gridSize, prefixTokens, tokenCount } from './config.js';

export type PoolSpec =
  | { kind: 'none' }
  | { kind: 'cls' }
  | { kind: 'mean' }
  | { kind: 'grid'; grid: number };

export const DEFAULT_POOL = 'grid:2';
export const DEFAULT_LAYERS = 'all';

/** Parse "none" | "cls" | "mean" | "grid:G". */
export function parsePool(text: string, config: BackboneConfig): PoolSpec {
  const t = text.trim().toLowerCase();
  if (t === 'none' || t === 'cls' || t === 'mean') return { kind: t };
  const m = /^grid:(\d+)$/.exec(t);
  if (m) {
    const grid = Number(m[1]);
    const g = gridSize(config);
    if (grid < 1 || grid > g) {
      throw new UsageError(`Expected \`--pool\` grid to be from 1 to ${g} (the patch grid of ${config.name ?? 'the backbone'}), got ${JSON.stringify(text)}`);
    }
    return { kind: 'grid', grid };
  }
  throw new UsageError(`Expected \`--pool\` to be one of \`none\`, \`cls\`, \`mean\`, \`grid:G\`, got ${JSON.stringify(text)}`);
}

/** The canonical spelling of a pool spec ("grid:2"). */
export function poolName(pool: PoolSpec): string {
  return pool.kind === 'grid' ? `grid:${pool.grid}` : pool.kind;
}

/** Tokens per frame after pooling (P). */
export function pooledTokens(pool: PoolSpec, config: BackboneConfig): number {
  switch (pool.kind) {
    case 'none': return tokenCount(config);
    case 'cls':
    case 'mean': return 1;
    case 'grid': return 1 + pool.grid * pool.grid;
  }
}

/**
 * Parse "all" | "every:K" | "3,6,9" (block numbers counted from 1, as users count them) into
 * sorted 0-based block indices. "every:K" taps blocks K, 2K, … (the last block when K divides
 * the depth).
 */
export function parseLayers(text: string, depth: number): number[] {
  const t = text.trim().toLowerCase();
  const bad = (why: string): never => {
    throw new UsageError(`Expected \`--layers\` to be \`all\`, \`every:K\` or block numbers from 1 to ${depth} like \`3,6,9\` (${why}), got ${JSON.stringify(text)}`);
  };
  if (t === 'all') return Array.from({ length: depth }, (_, i) => i);
  const every = /^every:(\d+)$/.exec(t);
  if (every) {
    const k = Number(every[1]);
    if (k < 1 || k > depth) bad(`K must be from 1 to ${depth}`);
    const out: number[] = [];
    for (let b = k; b <= depth; b += k) out.push(b - 1);
    return out;
  }
  if (!/^\d+(\s*,\s*\d+)*$/.test(t)) bad('unrecognised form');
  const blocks = [...new Set(t.split(',').map((s) => Number(s.trim())))].sort((a, b) => a - b);
  for (const b of blocks) if (b < 1 || b > depth) bad(`block ${b} is out of range`);
  return blocks.map((b) => b - 1);
}

/** "all", or the 1-based block list "3,6,9", for metadata and messages. */
export function layersName(layers: number[], depth: number): string {
  if (layers.length === depth && layers.every((l, i) => l === i)) return 'all';
  return layers.map((l) => l + 1).join(',');
}

/**
 * The pooling matrix [P, n] (row-major) for every mode but "none": row 0 is the class token
 * (or the mean of the patches when there is none; registers never count); for grid:G, rows 1… are the G×G cells in
 * row-major order, each the average of its patches, with cell edges as in adaptive average
 * pooling (floor(i·g/G) to ceil((i+1)·g/G)), so G need not divide the patch grid g.
 */
export function poolingMatrix(pool: PoolSpec, config: BackboneConfig): Float32Array {
  if (pool.kind === 'none') throw new Error('poolingMatrix: "none" has no matrix');
  const g = gridSize(config);
  const n = tokenCount(config);
  const first = prefixTokens(config); // index of the first patch token
  const rows = pooledTokens(pool, config);
  const w = new Float32Array(rows * n); // [P, n]
  const firstRow = (r: number): void => {
    if (config.classToken && pool.kind !== 'mean') {
      w[r * n] = 1;
    } else {
      for (let j = 0; j < g * g; j++) w[r * n + first + j] = 1 / (g * g);
    }
  };
  firstRow(0);
  if (pool.kind === 'grid') {
    const G = pool.grid;
    for (let cy = 0; cy < G; cy++) {
      const y0 = Math.floor((cy * g) / G), y1 = Math.ceil(((cy + 1) * g) / G);
      for (let cx = 0; cx < G; cx++) {
        const x0 = Math.floor((cx * g) / G), x1 = Math.ceil(((cx + 1) * g) / G);
        const row = 1 + cy * G + cx;
        const count = (y1 - y0) * (x1 - x0);
        for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) w[row * n + first + y * g + x] = 1 / count;
      }
    }
  }
  return w;
}
