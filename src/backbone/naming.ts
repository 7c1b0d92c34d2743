// Tensor names of ViT checkpoints: Hugging Face (`vit.`-prefixed or not) and timm, recognised
// from the file itself, and mapped onto the graph's weights.
import type { BackboneConfig } from './config.js';

export type WeightNaming = { kind: 'hf'; prefix: '' | 'vit.' } | { kind: 'timm' };

export function namingLabel(naming: WeightNaming): string {
  return naming.kind === 'timm' ? 'timm names' : `Hugging Face names${naming.prefix ? ' with the vit. prefix' : ''}`;
}

/** Which naming a file uses, from its patch-embedding tensor; undefined when neither. */
export function detectNaming(names: Iterable<string>): WeightNaming | undefined {
  const set = new Set(names);
  if (set.has('vit.embeddings.patch_embeddings.projection.weight')) return { kind: 'hf', prefix: 'vit.' };
  if (set.has('embeddings.patch_embeddings.projection.weight')) return { kind: 'hf', prefix: '' };
  if (set.has('patch_embed.proj.weight')) return { kind: 'timm' };
  return undefined;
}

/** How a graph weight is made from file tensors. */
export type Recipe =
  | { kind: 'copy'; source: string }
  /** A Linear weight [out, in] → [in, out]. */
  | { kind: 'transpose'; source: string }
  /** Hugging Face's separate query/key/value weights [D, D] → packed [D, 3D]. */
  | { kind: 'transpose-concat'; sources: [string, string, string] }
  /** Separate biases [D] → [3D]. */
  | { kind: 'concat'; sources: [string, string, string] }
  /** The position embedding, resampled to the graph's grid when it differs. */
  | { kind: 'pos'; source: string };

export interface NamingPlan {
  /** Graph weight name → how to build it (for every block of the config). */
  recipes: Map<string, Recipe>;
  /** File tensor name → its expected shape; the position embedding is checked on its own. */
  expected: Map<string, number[]>;
  posSource: string;
  /** Tensors a checkpoint may carry that the features do not use (final norm, heads, pooler). */
  ignored(name: string): boolean;
}

export function namingPlan(naming: WeightNaming, config: BackboneConfig): NamingPlan {
  const { width: d, mlpDim: m, patchSize: p } = config;
  const recipes = new Map<string, Recipe>();
  const expected = new Map<string, number[]>();
  const need = (name: string, shape: number[]): string => {
    expected.set(name, shape);
    return name;
  };
  if (naming.kind === 'hf') {
    const e = `${naming.prefix}embeddings.`;
    recipes.set('patch.weight', { kind: 'copy', source: need(`${e}patch_embeddings.projection.weight`, [d, 3, p, p]) });
    recipes.set('patch.bias', { kind: 'copy', source: need(`${e}patch_embeddings.projection.bias`, [d]) });
    if (config.classToken) recipes.set('cls', { kind: 'copy', source: need(`${e}cls_token`, [1, 1, d]) });
    const posSource = `${e}position_embeddings`;
    recipes.set('pos', { kind: 'pos', source: posSource });
    for (let i = 0; i < config.depth; i++) {
      const l = `${naming.prefix}encoder.layer.${i}.`;
      const b = `block${i}.`;
      const a = `${l}attention.attention.`;
      recipes.set(b + 'ln1.weight', { kind: 'copy', source: need(`${l}layernorm_before.weight`, [d]) });
      recipes.set(b + 'ln1.bias', { kind: 'copy', source: need(`${l}layernorm_before.bias`, [d]) });
      recipes.set(b + 'qkv.weight', {
        kind: 'transpose-concat',
        sources: [need(`${a}query.weight`, [d, d]), need(`${a}key.weight`, [d, d]), need(`${a}value.weight`, [d, d])],
      });
      recipes.set(b + 'qkv.bias', {
        kind: 'concat',
        sources: [need(`${a}query.bias`, [d]), need(`${a}key.bias`, [d]), need(`${a}value.bias`, [d])],
      });
      recipes.set(b + 'proj.weight', { kind: 'transpose', source: need(`${l}attention.output.dense.weight`, [d, d]) });
      recipes.set(b + 'proj.bias', { kind: 'copy', source: need(`${l}attention.output.dense.bias`, [d]) });
      recipes.set(b + 'ln2.weight', { kind: 'copy', source: need(`${l}layernorm_after.weight`, [d]) });
      recipes.set(b + 'ln2.bias', { kind: 'copy', source: need(`${l}layernorm_after.bias`, [d]) });
      recipes.set(b + 'fc1.weight', { kind: 'transpose', source: need(`${l}intermediate.dense.weight`, [m, d]) });
      recipes.set(b + 'fc1.bias', { kind: 'copy', source: need(`${l}intermediate.dense.bias`, [m]) });
      recipes.set(b + 'fc2.weight', { kind: 'transpose', source: need(`${l}output.dense.weight`, [d, m]) });
      recipes.set(b + 'fc2.bias', { kind: 'copy', source: need(`${l}output.dense.bias`, [d]) });
    }
    const pre = naming.prefix;
    const ignored = (name: string): boolean =>
      name === `${pre}layernorm.weight` || name === `${pre}layernorm.bias` || name === `${e}mask_token` ||
      name.startsWith(`${pre}pooler.`) || name.startsWith('classifier.') || name.startsWith('pooler.');
    return { recipes, expected, posSource, ignored };
  }
  recipes.set('patch.weight', { kind: 'copy', source: need('patch_embed.proj.weight', [d, 3, p, p]) });
  recipes.set('patch.bias', { kind: 'copy', source: need('patch_embed.proj.bias', [d]) });
  if (config.classToken) recipes.set('cls', { kind: 'copy', source: need('cls_token', [1, 1, d]) });
  recipes.set('pos', { kind: 'pos', source: 'pos_embed' });
  for (let i = 0; i < config.depth; i++) {
    const l = `blocks.${i}.`;
    const b = `block${i}.`;
    recipes.set(b + 'ln1.weight', { kind: 'copy', source: need(`${l}norm1.weight`, [d]) });
    recipes.set(b + 'ln1.bias', { kind: 'copy', source: need(`${l}norm1.bias`, [d]) });
    recipes.set(b + 'qkv.weight', { kind: 'transpose', source: need(`${l}attn.qkv.weight`, [3 * d, d]) });
    recipes.set(b + 'qkv.bias', { kind: 'copy', source: need(`${l}attn.qkv.bias`, [3 * d]) });
    recipes.set(b + 'proj.weight', { kind: 'transpose', source: need(`${l}attn.proj.weight`, [d, d]) });
    recipes.set(b + 'proj.bias', { kind: 'copy', source: need(`${l}attn.proj.bias`, [d]) });
    recipes.set(b + 'ln2.weight', { kind: 'copy', source: need(`${l}norm2.weight`, [d]) });
    recipes.set(b + 'ln2.bias', { kind: 'copy', source: need(`${l}norm2.bias`, [d]) });
    recipes.set(b + 'fc1.weight', { kind: 'transpose', source: need(`${l}mlp.fc1.weight`, [m, d]) });
    recipes.set(b + 'fc1.bias', { kind: 'copy', source: need(`${l}mlp.fc1.bias`, [m]) });
    recipes.set(b + 'fc2.weight', { kind: 'transpose', source: need(`${l}mlp.fc2.weight`, [d, m]) });
    recipes.set(b + 'fc2.bias', { kind: 'copy', source: need(`${l}mlp.fc2.bias`, [d]) });
  }
  const ignored = (name: string): boolean =>
    name.startsWith('norm.') || name.startsWith('fc_norm.') || name.startsWith('head.') || name.startsWith('head_drop.');
  return { recipes, expected, posSource: 'pos_embed', ignored };
}

/**
 * Transpose a row-major [rows, cols] matrix into `out`, an [cols, outCols] matrix, at column
 * offset `col0`. Tiled, so that large weights (ViT-e's 15360×1792) stay cache friendly.
 */
export function transposeInto(src: Float32Array, rows: number, cols: number, out: Float32Array, outCols: number, col0: number): void {
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const row = r * cols;
        for (let c = c0; c < c1; c++) out[c * outCols + col0 + r] = src[row + c]!;
      }
    }
  }
}
