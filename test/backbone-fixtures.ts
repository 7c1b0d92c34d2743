// Model folders written as the hub's libraries write them, from reference-named weights
// (backbone-helpers.ts makeTimmWeights): transformers (config.json with model_type, nested
// vision_config as a difference from the tower's defaults, preprocessor_config.json,
// model.safetensors or shards with an index), timm (config.json with architecture, model_args and
// pretrained_cfg) and open_clip (open_clip_config.json, open_clip_model.safetensors with OpenAI's
// names and a text tower). Real files carry tensors the features never use; so do these: heads,
// final norms, text towers, a 0-d logit_scale, I64 position_ids, mask tokens, attention-pool
// heads and __metadata__.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { BackboneConfig } from '../src/backbone/config.js';
import { createRng } from '../src/random.js';
import { f16ToF32, f32ToBf16, f32ToF16, writeSafetensors, type Dtype, type TensorToWrite } from '../src/safetensors.js';
import { smallConfig, toHfNames, type Tensors } from './backbone-helpers.js';

export type FloatDtype = 'F32' | 'F16' | 'BF16';

/** The weights as the dtype stores them (what a reference forward must use for that file). */
export function roundTensors(t: Tensors, dtype: FloatDtype): Tensors {
  if (dtype === 'F32') return t;
  const round = dtype === 'F16'
    ? (x: number) => f16ToF32(f32ToF16(x))
    : (x: number) => new Float32Array(new Uint32Array([f32ToBf16(x) << 16]).buffer)[0]!;
  return new Map([...t].map(([k, v]) => [k, { shape: v.shape, data: v.data.map(round) }]));
}

/** Tensors to write: float ones in `dtype`, others (I64 ids) as they are. */
export type FileTensors = Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>;

function toWrite(t: FileTensors, dtype: FloatDtype): TensorToWrite[] {
  return [...t].map(([name, v]) => ({ name, shape: v.shape, data: v.data, ...(v.data instanceof Float32Array ? { dtype: dtype as Dtype } : {}) }));
}

export async function writeJson(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify(value, null, 2));
}

/** One safetensors file with transformers' {"format": "pt"} metadata. */
export async function writeWeights(file: string, t: FileTensors, dtype: FloatDtype): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeSafetensors(file, toWrite(t, dtype), { format: 'pt' });
}

/** Shards model-0000i-of-0000n.safetensors and model.safetensors.index.json, as transformers writes them. */
export async function writeShards(dir: string, t: FileTensors, dtype: FloatDtype, shards = 2): Promise<string[]> {
  const names = [...t.keys()];
  const per = Math.ceil(names.length / shards);
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  let total = 0;
  for (let i = 0; i < shards; i++) {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part: FileTensors = new Map(names.slice(i * per, (i + 1) * per).map((n) => [n, t.get(n)!]));
    for (const [n, v] of part) {
      weightMap[n] = file;
      total += v.data.length * (v.data instanceof Float32Array ? (dtype === 'F32' ? 4 : 2) : 8);
    }
    await writeWeights(path.join(dir, file), part, dtype);
    files.push(file);
  }
  await writeJson(path.join(dir, 'model.safetensors.index.json'), { metadata: { total_size: total }, weight_map: weightMap });
  return files;
}

const get = (t: Tensors, n: string) => {
  const v = t.get(n);
  if (!v) throw new Error(`fixture: no reference tensor ${n}`);
  return v;
};

/** Rows [from, to) of a [rows, cols…] tensor. */
function rows(t: { shape: number[]; data: Float32Array }, from: number, to: number): { shape: number[]; data: Float32Array } {
  const per = t.data.length / t.shape[0]!;
  return { shape: [to - from, ...t.shape.slice(1)], data: t.data.slice(from * per, to * per) };
}

function flat(t: { shape: number[]; data: Float32Array }, shape: number[]): { shape: number[]; data: Float32Array } {
  return { shape, data: t.data };
}

function noise(seed: string, shape: number[]): { shape: number[]; data: Float32Array } {
  const rng = createRng(seed);
  return { shape, data: Float32Array.from({ length: shape.reduce((a, v) => a * v, 1) }, () => 0.1 * rng.normal()) };
}

/** The reference's pos_embed [1, k, D] as rows [k, D]. */
function posRows(t: Tensors): { shape: number[]; data: Float32Array } {
  const p = get(t, 'pos_embed');
  return { shape: p.shape.slice(1), data: p.data };
}

/** timm names. `noEmbedClass`: timm's DINOv2-with-registers convention, class token position folded into the token. */
export function timmTensors(t: Tensors, config: BackboneConfig, opts: { noEmbedClass?: boolean; attnPool?: boolean } = {}): FileTensors {
  const out: FileTensors = new Map(t);
  const d = config.width;
  if (opts.noEmbedClass && config.classToken) {
    const pos = get(t, 'pos_embed');
    const cls = get(t, 'cls_token');
    out.set('cls_token', { shape: cls.shape, data: cls.data.map((v, i) => v + pos.data[i]!) });
    out.set('pos_embed', { shape: [1, pos.shape[1]! - 1, d], data: pos.data.slice(d) });
  }
  if (opts.attnPool) {
    out.set('attn_pool.latent', noise('latent', [1, 1, d]));
    out.set('attn_pool.q.weight', noise('q', [d, d]));
    out.set('attn_pool.kv.weight', noise('kv', [2 * d, d]));
    out.set('attn_pool.mlp.fc1.weight', noise('fc1', [config.mlpDim, d]));
  }
  return out;
}

/** timm's packed qkv [3D, D] split into q, k, v. */
function splitQkv(t: Tensors, b: string, d: number): { w: Array<{ shape: number[]; data: Float32Array }>; bias: Array<{ shape: number[]; data: Float32Array }> } {
  const w = get(t, `${b}attn.qkv.weight`);
  const bias = get(t, `${b}attn.qkv.bias`);
  return { w: [0, 1, 2].map((j) => rows(w, j * d, (j + 1) * d)), bias: [0, 1, 2].map((j) => rows(bias, j * d, (j + 1) * d)) };
}

/** Hugging Face DINOv2 (with registers when the config has them) names, under `prefix`. */
export function hfDinov2Tensors(t: Tensors, config: BackboneConfig, prefix = ''): FileTensors {
  const d = config.width;
  const out: FileTensors = new Map();
  const e = `${prefix}embeddings.`;
  out.set(`${e}cls_token`, get(t, 'cls_token'));
  out.set(`${e}mask_token`, noise('mask', [1, d]));
  if (config.registers) out.set(`${e}register_tokens`, get(t, 'reg_token'));
  out.set(`${e}position_embeddings`, get(t, 'pos_embed'));
  out.set(`${e}patch_embeddings.projection.weight`, get(t, 'patch_embed.proj.weight'));
  out.set(`${e}patch_embeddings.projection.bias`, get(t, 'patch_embed.proj.bias'));
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}.`;
    const l = `${prefix}encoder.layer.${i}.`;
    const { w, bias } = splitQkv(t, b, d);
    ['query', 'key', 'value'].forEach((n, j) => {
      out.set(`${l}attention.attention.${n}.weight`, w[j]!);
      out.set(`${l}attention.attention.${n}.bias`, bias[j]!);
    });
    const same: [string, string][] = [
      ['norm1.weight', 'norm1.weight'], ['norm1.bias', 'norm1.bias'], ['attention.output.dense.weight', 'attn.proj.weight'],
      ['attention.output.dense.bias', 'attn.proj.bias'], ['layer_scale1.lambda1', 'ls1.gamma'], ['norm2.weight', 'norm2.weight'],
      ['norm2.bias', 'norm2.bias'], ['mlp.fc1.weight', 'mlp.fc1.weight'], ['mlp.fc1.bias', 'mlp.fc1.bias'],
      ['mlp.fc2.weight', 'mlp.fc2.weight'], ['mlp.fc2.bias', 'mlp.fc2.bias'], ['layer_scale2.lambda1', 'ls2.gamma'],
    ];
    for (const [to, from] of same) out.set(l + to, get(t, b + from));
  }
  out.set(`${prefix}layernorm.weight`, get(t, 'norm.weight'));
  out.set(`${prefix}layernorm.bias`, get(t, 'norm.bias'));
  return out;
}

/** Hugging Face CLIPModel / SiglipModel names: the vision tower, a text tower, projections, logit_scale. */
export function hfClipTensors(t: Tensors, config: BackboneConfig, siglip: boolean): FileTensors {
  const d = config.width;
  const out: FileTensors = new Map();
  const v = 'vision_model.';
  out.set(`${v}embeddings.patch_embedding.weight`, get(t, 'patch_embed.proj.weight'));
  if (siglip) out.set(`${v}embeddings.patch_embedding.bias`, get(t, 'patch_embed.proj.bias'));
  else out.set(`${v}embeddings.class_embedding`, flat(get(t, 'cls_token'), [d]));
  const pos = posRows(t);
  out.set(`${v}embeddings.position_embedding.weight`, pos);
  out.set(`${v}embeddings.position_ids`, { shape: [1, pos.shape[0]!], data: BigInt64Array.from({ length: pos.shape[0]! }, (_, i) => BigInt(i)) });
  if (!siglip) {
    out.set(`${v}pre_layrnorm.weight`, get(t, 'norm_pre.weight'));
    out.set(`${v}pre_layrnorm.bias`, get(t, 'norm_pre.bias'));
  }
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}.`;
    const l = `${v}encoder.layers.${i}.`;
    const { w, bias } = splitQkv(t, b, d);
    ['q_proj', 'k_proj', 'v_proj'].forEach((n, j) => {
      out.set(`${l}self_attn.${n}.weight`, w[j]!);
      out.set(`${l}self_attn.${n}.bias`, bias[j]!);
    });
    const same: [string, string][] = [
      ['layer_norm1.weight', 'norm1.weight'], ['layer_norm1.bias', 'norm1.bias'], ['self_attn.out_proj.weight', 'attn.proj.weight'],
      ['self_attn.out_proj.bias', 'attn.proj.bias'], ['layer_norm2.weight', 'norm2.weight'], ['layer_norm2.bias', 'norm2.bias'],
      ['mlp.fc1.weight', 'mlp.fc1.weight'], ['mlp.fc1.bias', 'mlp.fc1.bias'], ['mlp.fc2.weight', 'mlp.fc2.weight'], ['mlp.fc2.bias', 'mlp.fc2.bias'],
    ];
    for (const [to, from] of same) out.set(l + to, get(t, b + from));
  }
  out.set(`${v}post_layernorm.weight`, get(t, 'norm.weight'));
  out.set(`${v}post_layernorm.bias`, get(t, 'norm.bias'));
  if (siglip) {
    out.set(`${v}head.probe`, noise('probe', [1, 1, d]));
    out.set(`${v}head.attention.in_proj_weight`, noise('in_proj', [3 * d, d]));
    out.set(`${v}head.attention.in_proj_bias`, noise('in_proj_b', [3 * d]));
    out.set(`${v}head.mlp.fc1.weight`, noise('head_fc1', [config.mlpDim, d]));
  }
  out.set('text_model.embeddings.token_embedding.weight', noise('tok', [50, 16]));
  out.set('text_model.embeddings.position_ids', { shape: [1, 7], data: BigInt64Array.from({ length: 7 }, (_, i) => BigInt(i)) });
  out.set('text_model.encoder.layers.0.self_attn.q_proj.weight', noise('tq', [16, 16]));
  out.set('text_model.final_layer_norm.weight', noise('tln', [16]));
  out.set('logit_scale', { shape: [], data: Float32Array.of(2.6592) });
  if (siglip) out.set('logit_bias', { shape: [1], data: Float32Array.of(-10) });
  else {
    out.set('visual_projection.weight', noise('vp', [8, d]));
    out.set('text_projection.weight', noise('tp', [8, 16]));
  }
  return out;
}

/** open_clip's OpenAI names: visual.* for the image tower, a text tower at the top level. */
export function openClipTensors(t: Tensors, config: BackboneConfig): FileTensors {
  const d = config.width;
  const out: FileTensors = new Map();
  out.set('visual.conv1.weight', get(t, 'patch_embed.proj.weight'));
  out.set('visual.class_embedding', flat(get(t, 'cls_token'), [d]));
  out.set('visual.positional_embedding', posRows(t));
  if (config.lnPre) {
    out.set('visual.ln_pre.weight', get(t, 'norm_pre.weight'));
    out.set('visual.ln_pre.bias', get(t, 'norm_pre.bias'));
  }
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}.`;
    const l = `visual.transformer.resblocks.${i}.`;
    const same: [string, string][] = [
      ['ln_1.weight', 'norm1.weight'], ['ln_1.bias', 'norm1.bias'], ['attn.in_proj_weight', 'attn.qkv.weight'], ['attn.in_proj_bias', 'attn.qkv.bias'],
      ['attn.out_proj.weight', 'attn.proj.weight'], ['attn.out_proj.bias', 'attn.proj.bias'], ['ln_2.weight', 'norm2.weight'], ['ln_2.bias', 'norm2.bias'],
      ['mlp.c_fc.weight', 'mlp.fc1.weight'], ['mlp.c_fc.bias', 'mlp.fc1.bias'], ['mlp.c_proj.weight', 'mlp.fc2.weight'], ['mlp.c_proj.bias', 'mlp.fc2.bias'],
      ...(config.layerScale ? [['ls_1.gamma', 'ls1.gamma'], ['ls_2.gamma', 'ls2.gamma']] as [string, string][] : []),
    ];
    for (const [to, from] of same) out.set(l + to, get(t, b + from));
  }
  out.set('visual.ln_post.weight', get(t, 'norm.weight'));
  out.set('visual.ln_post.bias', get(t, 'norm.bias'));
  out.set('visual.proj', noise('proj', [d, 8]));
  // The text tower: its own positional_embedding and transformer at the top level.
  out.set('positional_embedding', noise('tpos', [7, 16]));
  out.set('token_embedding.weight', noise('ttok', [50, 16]));
  out.set('transformer.resblocks.0.attn.in_proj_weight', noise('tin', [48, 16]));
  out.set('ln_final.weight', noise('tlnf', [16]));
  out.set('text_projection', noise('tproj', [16, 8]));
  out.set('logit_scale', { shape: [], data: Float32Array.of(4.6052) });
  return out;
}

// Hub config files, tiny: width 32, 2 blocks, 2 heads, MLP 64, 8-px patches on 32 px (4×4).

export const OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_STD = [0.26862954, 0.26130258, 0.27577711];
export const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
export const HALF = [0.5, 0.5, 0.5];
export const TINY = { width: 32, depth: 2, heads: 2, mlpDim: 64, patchSize: 8, imageSize: 32 }; // 4×4 patches
export const TIMM_TINY = { embed_dim: 32, depth: 2, num_heads: 2, patch_size: 8, mlp_ratio: 2 };
export const HF_VISION_TINY = { hidden_size: 32, intermediate_size: 64, num_attention_heads: 2, num_hidden_layers: 2, image_size: 32, patch_size: 8 };
export const TEXT_CFG = { hidden_size: 16, intermediate_size: 32, num_attention_heads: 2, num_hidden_layers: 1, vocab_size: 50 };
export const OPEN_CLIP_TEXT = { context_length: 7, vocab_size: 50, width: 16, heads: 2, layers: 1 };

export const base = (over: Partial<BackboneConfig>): BackboneConfig => smallConfig({ ...TINY, depth: 2, ...over });

export const hfViT = (dir: string, w: Tensors, c: BackboneConfig) => Promise.all([
  writeJson(path.join(dir, 'config.json'), {
    _name_or_path: 'google/vit-base-patch16-224-in21k', architectures: ['ViTModel'], attention_probs_dropout_prob: 0, encoder_stride: 16,
    hidden_act: 'gelu', hidden_dropout_prob: 0, hidden_size: 32, image_size: 32, initializer_range: 0.02, intermediate_size: 64,
    layer_norm_eps: 1e-12, model_type: 'vit', num_attention_heads: 2, num_channels: 3, num_hidden_layers: 2, patch_size: 8,
    qkv_bias: true, torch_dtype: 'float32', transformers_version: '4.46.0',
  }),
  writeJson(path.join(dir, 'preprocessor_config.json'), {
    do_normalize: true, do_rescale: true, do_resize: true, image_mean: HALF, image_processor_type: 'ViTImageProcessor', image_std: HALF,
    resample: 2, rescale_factor: 0.00392156862745098, size: { height: 32, width: 32 },
  }),
  writeWeights(path.join(dir, 'model.safetensors'), new Map([...toHfNames(w, c),
    ['pooler.dense.weight', { shape: [32, 32], data: new Float32Array(1024) }], ['pooler.dense.bias', { shape: [32], data: new Float32Array(32) }]]), 'F32'),
]).then(() => undefined);

export const clipPreprocessor = (dir: string) => writeJson(path.join(dir, 'preprocessor_config.json'), {
  crop_size: { height: 32, width: 32 }, do_center_crop: true, do_convert_rgb: true, do_normalize: true, do_rescale: true, do_resize: true,
  image_mean: OPENAI_MEAN, image_processor_type: 'CLIPImageProcessor', image_std: OPENAI_STD, resample: 3,
  rescale_factor: 0.00392156862745098, size: { shortest_edge: 32 },
});

/** transformers' CLIPModel config: vision_config and text_config as differences from their defaults. */
export const clipModelConfig = (vision: Record<string, unknown>) => ({
  architectures: ['CLIPModel'], initializer_factor: 1.0, logit_scale_init_value: 2.6592, model_type: 'clip', projection_dim: 8,
  text_config: { ...TEXT_CFG, projection_dim: 8 }, torch_dtype: 'float16', transformers_version: '4.46.0',
  vision_config: { ...HF_VISION_TINY, projection_dim: 8, ...vision },
});

export const dinov2Config = (type: 'dinov2' | 'dinov2_with_registers', extra: Record<string, unknown>) => ({
  apply_layernorm: true, architectures: [type === 'dinov2' ? 'Dinov2Model' : 'Dinov2WithRegistersModel'], attention_probs_dropout_prob: 0,
  drop_path_rate: 0, hidden_act: 'gelu', hidden_dropout_prob: 0, hidden_size: 32, image_size: 56, initializer_range: 0.02,
  layer_norm_eps: 1e-6, layerscale_value: 1.0, mlp_ratio: 2, model_type: type, num_attention_heads: 2, num_channels: 3,
  num_hidden_layers: 2, out_features: ['stage2'], out_indices: [2], patch_size: 8, qkv_bias: true, reshape_hidden_states: true,
  stage_names: ['stem', 'stage1', 'stage2'], torch_dtype: 'float32', transformers_version: '4.46.0', use_swiglu_ffn: false, ...extra,
});

export const bitPreprocessor = (dir: string) => writeJson(path.join(dir, 'preprocessor_config.json'), {
  crop_size: { height: 32, width: 32 }, do_center_crop: true, do_convert_rgb: true, do_normalize: true, do_rescale: true, do_resize: true,
  image_mean: IMAGENET.mean, image_processor_type: 'BitImageProcessor', image_std: IMAGENET.std, resample: 3,
  rescale_factor: 0.00392156862745098, size: { shortest_edge: 36 },
});

/** timm's config.json as save_config_for_hf writes it. */
export const timmConfig = (architecture: string, modelArgs: Record<string, unknown>, pretrained: Record<string, unknown>) => ({
  architecture, num_classes: 0, num_features: 32, global_pool: 'token', model_args: modelArgs,
  pretrained_cfg: {
    tag: 'test', custom_load: false, input_size: [3, 32, 32], fixed_input_size: true, interpolation: 'bicubic', crop_pct: 1.0,
    crop_mode: 'center', mean: HALF, std: HALF, num_classes: 0, pool_size: null, first_conv: 'patch_embed.proj', classifier: 'head', ...pretrained,
  },
});

/** open_clip's open_clip_config.json as push_to_hf_hub writes it. */
export const openClipConfig = (vision: Record<string, unknown>, extra: Record<string, unknown>, preprocess: Record<string, unknown>) => ({
  model_cfg: { embed_dim: 8, vision_cfg: vision, text_cfg: OPEN_CLIP_TEXT, ...extra },
  preprocess_cfg: { mean: OPENAI_MEAN, std: OPENAI_STD, ...preprocess },
});

export const quickClip = base({ lnPre: true, patchBias: false, gelu: 'quick', layerNormEps: 1e-5 });
export const writeTimmQuickClip = async (dir: string, w: Tensors, c: BackboneConfig, dtype: FloatDtype) => {
  await writeJson(path.join(dir, 'config.json'), timmConfig('vit_base_patch16_clip_quickgelu_224', { ...TIMM_TINY, img_size: 32 },
    { input_size: [3, 224, 224], mean: OPENAI_MEAN, std: OPENAI_STD }));
  await writeWeights(path.join(dir, 'model.safetensors'), timmTensors(w, c), dtype);
};
export const writeOpenClipQuick = async (dir: string, w: Tensors, c: BackboneConfig, dtype: FloatDtype) => {
  await writeJson(path.join(dir, 'open_clip_config.json'), openClipConfig(
    { image_size: 32, layers: 2, width: 32, head_width: 16, mlp_ratio: 2, patch_size: 8 }, { quick_gelu: true }, {}));
  await writeWeights(path.join(dir, 'open_clip_model.safetensors'), openClipTensors(w, c), dtype);
};

