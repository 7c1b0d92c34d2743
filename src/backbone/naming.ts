// Tensor names of the checkpoints losa reads, one scheme per family and library, recognised
// from the file itself:
//   timm        patch_embed.proj, cls_token, reg_token, pos_embed, norm_pre, blocks.N.{norm1, attn.qkv, ls1, …}
//               (also inside open_clip files, under visual.trunk.)
//   hf-vit      [vit.]embeddings.patch_embeddings.projection, encoder.layer.N.attention.attention.{query,key,value}
//   hf-dinov2   [dinov2.|dinov2_with_registers.]embeddings.{cls_token,register_tokens}, encoder.layer.N.{norm1, layer_scale1, …}
//   hf-clip     vision_model.embeddings.{patch_embedding,class_embedding,position_embedding}, pre_layrnorm, encoder.layers.N.self_attn.{q,k,v}_proj
//   hf-siglip   as hf-clip without class embedding or pre_layrnorm, with a patch bias
//   open_clip   visual.{conv1,class_embedding,positional_embedding,ln_pre}, visual.transformer.resblocks.N.{ln_1, attn.in_proj_*, ls_1, …}
// A file names its image tower under a prefix; what lies outside it (text towers, projections,
// logit_scale) and the heads and final norms inside it are ignored: the features never use them.
import type { BackboneConfig } from './config.js';
import type { PosResample } from './posembed.js';

export type NamingKind = 'timm' | 'hf-vit' | 'hf-dinov2' | 'hf-clip' | 'hf-siglip' | 'open_clip';

export interface WeightNaming {
  kind: NamingKind;
  /** Where the image tower's names start ("", "vit.", "vision_model.", "visual.", "visual.trunk." …). */
  prefix: string;
}

/** How the attention's input projections are stored: packed q | k | v rows (full tensor names), or three linears. */
export type QkvNames = { packed: { weight: string; bias: string } } | { q: string; k: string; v: string };

/** The file's names for one block (LayerNorms and linears without their .weight / .bias). */
export interface BlockNames {
  ln1: string;
  qkv: QkvNames;
  proj: string;
  ls1?: string;
  ln2: string;
  fc1: string;
  fc2: string;
  ls2?: string;
}

/** The file's names for the embeddings; undefined where the scheme has no such tensor. */
export interface EmbeddingNames {
  patch: string;
  /** The class token and whether it is stored as [D] (CLIP, open_clip) rather than [1, 1, D]. */
  cls?: { name: string; flat: boolean };
  reg?: string;
  /** The position embedding and whether it is stored as [n, D] (nn.Embedding) rather than [1, n, D]. */
  pos: { name: string; flat: boolean };
  lnPre?: string;
}

export interface NamingScheme {
  kind: NamingKind;
  label: string;
  /** How this family's own code resamples a position embedding for another grid. */
  resample(config: BackboneConfig): PosResample;
  /** Prefixes the image tower is found under, most specific first. */
  prefixes: string[];
  /** Whether the names hold this scheme's tower under `prefix`. */
  matches(names: Set<string>, prefix: string): boolean;
  embeddings(prefix: string): EmbeddingNames;
  block(prefix: string, i: number): BlockNames;
  /** The regex of a block's names, capturing its number (for a depth mismatch message). */
  blockPattern: RegExp;
  /** Tensors under the prefix that the features never use (names relative to the prefix). */
  unused: RegExp;
}

const sep = (p: string, q: string, k: string, v: string): QkvNames => ({ q: p + q, k: p + k, v: p + v });

const timm: NamingScheme = {
  kind: 'timm', label: 'timm names', resample: () => 'bicubic-aa', prefixes: ['', 'visual.trunk.'],
  matches: (n, p) => n.has(`${p}patch_embed.proj.weight`),
  embeddings: (p) => ({
    patch: `${p}patch_embed.proj`, cls: { name: `${p}cls_token`, flat: false }, reg: `${p}reg_token`,
    pos: { name: `${p}pos_embed`, flat: false }, lnPre: `${p}norm_pre`,
  }),
  block: (p, i) => {
    const b = `${p}blocks.${i}.`;
    return {
      ln1: b + 'norm1', qkv: { packed: { weight: b + 'attn.qkv.weight', bias: b + 'attn.qkv.bias' } }, proj: b + 'attn.proj', ls1: b + 'ls1.gamma',
      ln2: b + 'norm2', fc1: b + 'mlp.fc1', fc2: b + 'mlp.fc2', ls2: b + 'ls2.gamma',
    };
  },
  blockPattern: /blocks\.(\d+)\./,
  unused: /^(norm|fc_norm|head|head_drop|attn_pool)\.|^mask_token$/,
};

/** Hugging Face's ViT and DINOv2 share the embedding and attention names. */
function hfViTLike(p: string, i: number, dinov2: boolean): BlockNames {
  const l = `${p}encoder.layer.${i}.`;
  const a = `${l}attention.attention.`;
  const common = { qkv: sep(a, 'query', 'key', 'value'), proj: `${l}attention.output.dense` };
  if (!dinov2) {
    return { ...common, ln1: l + 'layernorm_before', ln2: l + 'layernorm_after', fc1: l + 'intermediate.dense', fc2: l + 'output.dense' };
  }
  return {
    ...common, ln1: l + 'norm1', ls1: l + 'layer_scale1.lambda1', ln2: l + 'norm2', fc1: l + 'mlp.fc1', fc2: l + 'mlp.fc2',
    ls2: l + 'layer_scale2.lambda1',
  };
}

const hfVit: NamingScheme = {
  kind: 'hf-vit', label: 'Hugging Face ViT names', resample: () => 'bicubic', prefixes: ['vit.', ''],
  matches: (n, p) => n.has(`${p}embeddings.patch_embeddings.projection.weight`) && !n.has(`${p}encoder.layer.0.norm1.weight`),
  embeddings: (p) => ({
    patch: `${p}embeddings.patch_embeddings.projection`, cls: { name: `${p}embeddings.cls_token`, flat: false },
    pos: { name: `${p}embeddings.position_embeddings`, flat: false },
  }),
  block: (p, i) => hfViTLike(p, i, false),
  blockPattern: /encoder\.layer\.(\d+)\./,
  unused: /^(layernorm|pooler|classifier)\.|^embeddings\.mask_token$/,
};

const hfDinov2: NamingScheme = {
  kind: 'hf-dinov2', label: 'Hugging Face DINOv2 names',
  // Dinov2WithRegisters interpolates with antialias=True; Dinov2 without.
  resample: (c) => (c.registers ? 'bicubic-aa' : 'bicubic'),
  prefixes: ['dinov2.', 'dinov2_with_registers.', ''],
  matches: (n, p) => n.has(`${p}embeddings.patch_embeddings.projection.weight`) && n.has(`${p}encoder.layer.0.norm1.weight`),
  embeddings: (p) => ({
    patch: `${p}embeddings.patch_embeddings.projection`, cls: { name: `${p}embeddings.cls_token`, flat: false },
    reg: `${p}embeddings.register_tokens`, pos: { name: `${p}embeddings.position_embeddings`, flat: false },
  }),
  block: (p, i) => hfViTLike(p, i, true),
  blockPattern: /encoder\.layer\.(\d+)\./,
  unused: /^(layernorm|classifier)\.|^embeddings\.mask_token$/,
};

/** Hugging Face's CLIP and SigLIP vision towers share the encoder names. */
function hfClipBlock(p: string, i: number): BlockNames {
  const l = `${p}encoder.layers.${i}.`;
  return {
    ln1: l + 'layer_norm1', qkv: sep(l, 'self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj'), proj: l + 'self_attn.out_proj',
    ln2: l + 'layer_norm2', fc1: l + 'mlp.fc1', fc2: l + 'mlp.fc2',
  };
}

const hfClip: NamingScheme = {
  kind: 'hf-clip', label: 'Hugging Face CLIP names', resample: () => 'bicubic', prefixes: ['vision_model.'],
  matches: (n, p) => n.has(`${p}embeddings.class_embedding`) && n.has(`${p}embeddings.patch_embedding.weight`),
  embeddings: (p) => ({
    patch: `${p}embeddings.patch_embedding`, cls: { name: `${p}embeddings.class_embedding`, flat: true },
    pos: { name: `${p}embeddings.position_embedding.weight`, flat: true }, lnPre: `${p}pre_layrnorm`,
  }),
  block: hfClipBlock,
  blockPattern: /encoder\.layers\.(\d+)\./,
  unused: /^post_layernorm\.|^embeddings\.position_ids$/,
};

const hfSiglip: NamingScheme = {
  kind: 'hf-siglip', label: 'Hugging Face SigLIP names', resample: () => 'bicubic', prefixes: ['vision_model.'],
  matches: (n, p) => !n.has(`${p}embeddings.class_embedding`) && n.has(`${p}embeddings.patch_embedding.weight`),
  embeddings: (p) => ({ patch: `${p}embeddings.patch_embedding`, pos: { name: `${p}embeddings.position_embedding.weight`, flat: true } }),
  block: hfClipBlock,
  blockPattern: /encoder\.layers\.(\d+)\./,
  unused: /^(post_layernorm|head)\.|^embeddings\.position_ids$/,
};

const openClip: NamingScheme = {
  kind: 'open_clip', label: 'open_clip (OpenAI) names', resample: () => 'bicubic-aa', prefixes: ['visual.'],
  matches: (n, p) => n.has(`${p}conv1.weight`) && n.has(`${p}class_embedding`),
  embeddings: (p) => ({
    patch: `${p}conv1`, cls: { name: `${p}class_embedding`, flat: true }, pos: { name: `${p}positional_embedding`, flat: true },
    lnPre: `${p}ln_pre`,
  }),
  block: (p, i) => {
    const b = `${p}transformer.resblocks.${i}.`;
    return {
      ln1: b + 'ln_1', qkv: { packed: { weight: b + 'attn.in_proj_weight', bias: b + 'attn.in_proj_bias' } }, proj: b + 'attn.out_proj', ls1: b + 'ls_1.gamma',
      ln2: b + 'ln_2', fc1: b + 'mlp.c_fc', fc2: b + 'mlp.c_proj', ls2: b + 'ls_2.gamma',
    };
  },
  blockPattern: /transformer\.resblocks\.(\d+)\./,
  unused: /^(ln_post|attn_pool|attn_pool_contrastive|head)\.|^proj$/,
};

/** Detection order: DINOv2 before ViT (they share embedding names), CLIP before SigLIP. */
export const NAMING_SCHEMES: readonly NamingScheme[] = [timm, hfDinov2, hfVit, hfClip, hfSiglip, openClip];

export function namingScheme(kind: NamingKind): NamingScheme {
  return NAMING_SCHEMES.find((s) => s.kind === kind)!;
}

export function namingLabel(naming: WeightNaming): string {
  const label = namingScheme(naming.kind).label;
  return naming.prefix ? `${label} under ${naming.prefix}` : label;
}

/** Which naming a file uses, from its tensor names; undefined when none. */
export function detectNaming(names: Iterable<string>): WeightNaming | undefined {
  const set = new Set(names);
  for (const scheme of NAMING_SCHEMES) {
    for (const prefix of scheme.prefixes) if (scheme.matches(set, prefix)) return { kind: scheme.kind, prefix };
  }
  return undefined;
}

/** Whether a tensor is one the features never use: another tower's, a head, a final norm. */
export function isUnused(naming: WeightNaming, name: string): boolean {
  if (!name.startsWith(naming.prefix)) return naming.prefix !== '';
  return namingScheme(naming.kind).unused.test(name.slice(naming.prefix.length));
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
