// Model folders as the hub's libraries write them, for every layout × family (transformers:
// ViT, CLIP, DINOv2, DINOv2 with registers, SigLIP; timm: plain, _clip_quickgelu_, _dinov2,
// _reg4_dinov2, _siglip_; open_clip: CLIP with and without quick GELU, LayerScale, and a SigLIP
// tower from timm), in F32, F16 and BF16, one sharded, some with position embeddings for another
// grid: each is recognised, gives the config its library would build, and runs block by block
// as the float64 reference ViT does with the same weights.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBackbone, resizeBicubic, resolveBackbone, withDefaults, type BackboneConfig } from '../src/backbone/index.js';
import {
  hfClipTensors, hfDinov2Tensors, openClipTensors, roundTensors, timmTensors, writeJson, writeShards, writeWeights, type FloatDtype,
} from './backbone-fixtures.js';
import { layerOf, makeTimmWeights, randomFrames, referenceForward, relError, smallConfig, toHfNames, type Tensors } from './backbone-helpers.js';

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-folders-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_STD = [0.26862954, 0.26130258, 0.27577711];
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const HALF = [0.5, 0.5, 0.5];
const TINY = { width: 32, depth: 2, heads: 2, mlpDim: 64, patchSize: 8, imageSize: 32 }; // 4×4 patches
const TIMM_TINY = { embed_dim: 32, depth: 2, num_heads: 2, patch_size: 8, mlp_ratio: 2 };
const HF_VISION_TINY = { hidden_size: 32, intermediate_size: 64, num_attention_heads: 2, num_hidden_layers: 2, image_size: 32, patch_size: 8 };
const TEXT_CFG = { hidden_size: 16, intermediate_size: 32, num_attention_heads: 2, num_hidden_layers: 1, vocab_size: 50 };
const OPEN_CLIP_TEXT = { context_length: 7, vocab_size: 50, width: 16, heads: 2, layers: 1 };

interface FolderCase {
  label: string;
  layout: 'transformers' | 'timm' | 'open_clip';
  family: 'vit' | 'clip' | 'dinov2' | 'siglip';
  /** The tower as its library builds it (name, mean and std aside). */
  config: BackboneConfig;
  dtype: FloatDtype;
  /** The preprocessing the folder describes. */
  mean: number[];
  interpolation: string;
  /** Grid of the file's position embedding, when it differs from the config's, and how it is resampled. */
  posGrid?: number;
  resample?: 'bicubic' | 'bicubic-aa';
  write(dir: string, w: Tensors, c: BackboneConfig): Promise<void>;
}

const base = (over: Partial<BackboneConfig>): BackboneConfig => smallConfig({ ...TINY, depth: 2, ...over });

const hfViT = (dir: string, w: Tensors, c: BackboneConfig) => Promise.all([
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

const clipPreprocessor = (dir: string) => writeJson(path.join(dir, 'preprocessor_config.json'), {
  crop_size: { height: 32, width: 32 }, do_center_crop: true, do_convert_rgb: true, do_normalize: true, do_rescale: true, do_resize: true,
  image_mean: OPENAI_MEAN, image_processor_type: 'CLIPImageProcessor', image_std: OPENAI_STD, resample: 3,
  rescale_factor: 0.00392156862745098, size: { shortest_edge: 32 },
});

/** transformers' CLIPModel config: vision_config and text_config as differences from their defaults. */
const clipModelConfig = (vision: Record<string, unknown>) => ({
  architectures: ['CLIPModel'], initializer_factor: 1.0, logit_scale_init_value: 2.6592, model_type: 'clip', projection_dim: 8,
  text_config: { ...TEXT_CFG, projection_dim: 8 }, torch_dtype: 'float16', transformers_version: '4.46.0',
  vision_config: { ...HF_VISION_TINY, projection_dim: 8, ...vision },
});

const dinov2Config = (type: 'dinov2' | 'dinov2_with_registers', extra: Record<string, unknown>) => ({
  apply_layernorm: true, architectures: [type === 'dinov2' ? 'Dinov2Model' : 'Dinov2WithRegistersModel'], attention_probs_dropout_prob: 0,
  drop_path_rate: 0, hidden_act: 'gelu', hidden_dropout_prob: 0, hidden_size: 32, image_size: 56, initializer_range: 0.02,
  layer_norm_eps: 1e-6, layerscale_value: 1.0, mlp_ratio: 2, model_type: type, num_attention_heads: 2, num_channels: 3,
  num_hidden_layers: 2, out_features: ['stage2'], out_indices: [2], patch_size: 8, qkv_bias: true, reshape_hidden_states: true,
  stage_names: ['stem', 'stage1', 'stage2'], torch_dtype: 'float32', transformers_version: '4.46.0', use_swiglu_ffn: false, ...extra,
});

const bitPreprocessor = (dir: string) => writeJson(path.join(dir, 'preprocessor_config.json'), {
  crop_size: { height: 32, width: 32 }, do_center_crop: true, do_convert_rgb: true, do_normalize: true, do_rescale: true, do_resize: true,
  image_mean: IMAGENET.mean, image_processor_type: 'BitImageProcessor', image_std: IMAGENET.std, resample: 3,
  rescale_factor: 0.00392156862745098, size: { shortest_edge: 36 },
});

/** timm's config.json as save_config_for_hf writes it. */
const timmConfig = (architecture: string, modelArgs: Record<string, unknown>, pretrained: Record<string, unknown>) => ({
  architecture, num_classes: 0, num_features: 32, global_pool: 'token', model_args: modelArgs,
  pretrained_cfg: {
    tag: 'test', custom_load: false, input_size: [3, 32, 32], fixed_input_size: true, interpolation: 'bicubic', crop_pct: 1.0,
    crop_mode: 'center', mean: HALF, std: HALF, num_classes: 0, pool_size: null, first_conv: 'patch_embed.proj', classifier: 'head', ...pretrained,
  },
});

/** open_clip's open_clip_config.json as push_to_hf_hub writes it. */
const openClipConfig = (vision: Record<string, unknown>, extra: Record<string, unknown>, preprocess: Record<string, unknown>) => ({
  model_cfg: { embed_dim: 8, vision_cfg: vision, text_cfg: OPEN_CLIP_TEXT, ...extra },
  preprocess_cfg: { mean: OPENAI_MEAN, std: OPENAI_STD, ...preprocess },
});

const quickClip = base({ lnPre: true, patchBias: false, gelu: 'quick', layerNormEps: 1e-5 });
const writeTimmQuickClip = async (dir: string, w: Tensors, c: BackboneConfig, dtype: FloatDtype) => {
  await writeJson(path.join(dir, 'config.json'), timmConfig('vit_base_patch16_clip_quickgelu_224', { ...TIMM_TINY, img_size: 32 },
    { input_size: [3, 224, 224], mean: OPENAI_MEAN, std: OPENAI_STD }));
  await writeWeights(path.join(dir, 'model.safetensors'), timmTensors(w, c), dtype);
};
const writeOpenClipQuick = async (dir: string, w: Tensors, c: BackboneConfig, dtype: FloatDtype) => {
  await writeJson(path.join(dir, 'open_clip_config.json'), openClipConfig(
    { image_size: 32, layers: 2, width: 32, head_width: 16, mlp_ratio: 2, patch_size: 8 }, { quick_gelu: true }, {}));
  await writeWeights(path.join(dir, 'open_clip_model.safetensors'), openClipTensors(w, c), dtype);
};

const cases: FolderCase[] = [
  {
    label: 'transformers ViT (F32, with its pooler)', layout: 'transformers', family: 'vit', dtype: 'F32', mean: HALF, interpolation: 'bilinear',
    config: base({ layerNormEps: 1e-12 }), write: hfViT,
  },
  {
    label: 'transformers CLIPModel (F16, vision_config as a diff: quick GELU and eps from the defaults)', layout: 'transformers',
    family: 'clip', dtype: 'F16', mean: OPENAI_MEAN, interpolation: 'bicubic', config: quickClip,
    write: async (dir, w, c) => {
      await writeJson(path.join(dir, 'config.json'), clipModelConfig({}));
      await clipPreprocessor(dir);
      await writeWeights(path.join(dir, 'model.safetensors'), hfClipTensors(w, c, false), 'F16');
    },
  },
  {
    label: 'transformers DINOv2 (BF16, 7×7 position embedding resampled to 4×4)', layout: 'transformers', family: 'dinov2', dtype: 'BF16',
    mean: IMAGENET.mean, interpolation: 'bicubic', posGrid: 7, resample: 'bicubic', config: base({ layerScale: true }),
    write: async (dir, w, c) => {
      await writeJson(path.join(dir, 'config.json'), dinov2Config('dinov2', { use_mask_token: true }));
      await bitPreprocessor(dir);
      await writeWeights(path.join(dir, 'model.safetensors'), hfDinov2Tensors(w, c), 'BF16');
    },
  },
  {
    label: 'transformers DINOv2 with registers (F32, sharded, antialiased resampling)', layout: 'transformers', family: 'dinov2', dtype: 'F32',
    mean: IMAGENET.mean, interpolation: 'bicubic', posGrid: 7, resample: 'bicubic-aa', config: base({ layerScale: true, registers: 2 }),
    write: async (dir, w, c) => {
      await writeJson(path.join(dir, 'config.json'), dinov2Config('dinov2_with_registers', { num_register_tokens: 2 }));
      await bitPreprocessor(dir);
      await writeShards(dir, hfDinov2Tensors(w, c), 'F32');
    },
  },
  {
    label: 'transformers SiglipModel (F16, tanh GELU and eps from the defaults, no class token)', layout: 'transformers', family: 'siglip',
    dtype: 'F16', mean: HALF, interpolation: 'bicubic', config: base({ classToken: false, gelu: 'tanh', layerNormEps: 1e-6 }),
    write: async (dir, w, c) => {
      await writeJson(path.join(dir, 'config.json'), {
        architectures: ['SiglipModel'], initializer_factor: 1.0, model_type: 'siglip', text_config: TEXT_CFG, torch_dtype: 'float16',
        transformers_version: '4.46.0', vision_config: HF_VISION_TINY,
      });
      await writeJson(path.join(dir, 'preprocessor_config.json'), {
        do_normalize: true, do_rescale: true, do_resize: true, image_mean: HALF, image_processor_type: 'SiglipImageProcessor',
        image_std: HALF, processor_class: 'SiglipProcessor', resample: 3, rescale_factor: 0.00392156862745098, size: { height: 32, width: 32 },
      });
      await writeWeights(path.join(dir, 'model.safetensors'), hfClipTensors(w, c, true), 'F16');
    },
  },
  {
    label: 'transformers CLIPVisionModel (BF16, exact GELU, no preprocessor_config.json)', layout: 'transformers', family: 'clip',
    dtype: 'BF16', mean: OPENAI_MEAN, interpolation: 'bicubic', config: base({ lnPre: true, patchBias: false, layerNormEps: 1e-5 }),
    write: async (dir, w, c) => {
      await writeJson(path.join(dir, 'config.json'), {
        architectures: ['CLIPVisionModel'], attention_dropout: 0, hidden_act: 'gelu', initializer_factor: 1, initializer_range: 0.02,
        layer_norm_eps: 1e-5, model_type: 'clip_vision_model', num_channels: 3, projection_dim: 8, ...HF_VISION_TINY,
      });
      const all = hfClipTensors(w, c, false);
      await writeWeights(path.join(dir, 'model.safetensors'), new Map([...all].filter(([n]) => n.startsWith('vision_model.'))), 'BF16');
    },
  },
  {
    label: 'timm vit_base_patch16_224 (F32, model_args override the architecture)', layout: 'timm', family: 'vit', dtype: 'F32', mean: HALF,
    interpolation: 'bicubic', config: base({}),
    write: async (dir, w, c) => {
      await writeJson(path.join(dir, 'config.json'), timmConfig('vit_base_patch16_224', TIMM_TINY, { crop_pct: 0.9 }));
      await writeWeights(path.join(dir, 'model.safetensors'), timmTensors(w, c), 'F32');
    },
  },
  {
    label: 'timm vit_base_patch16_clip_quickgelu_224 (F16, img_size from model_args)', layout: 'timm', family: 'clip', dtype: 'F16',
    mean: OPENAI_MEAN, interpolation: 'bicubic', config: quickClip, write: (dir, w, c) => writeTimmQuickClip(dir, w, c, 'F16'),
  },
  {
    label: 'timm vit_small_patch14_dinov2 (BF16, LayerScale)', layout: 'timm', family: 'dinov2', dtype: 'BF16', mean: IMAGENET.mean,
    interpolation: 'bicubic', config: base({ layerScale: true }),
    write: async (dir, w, c) => {
      await writeJson(path.join(dir, 'config.json'), timmConfig('vit_small_patch14_dinov2', TIMM_TINY, IMAGENET));
      await writeWeights(path.join(dir, 'model.safetensors'), timmTensors(w, c), 'BF16');
    },
  },
  {
    label: 'timm vit_small_patch14_reg4_dinov2 (F32, no_embed_class, 7×7 resampled antialiased)', layout: 'timm', family: 'dinov2',
    dtype: 'F32', mean: IMAGENET.mean, interpolation: 'bicubic', posGrid: 7, resample: 'bicubic-aa',
    config: base({ layerScale: true, registers: 2 }),
    write: async (dir, w, c) => {
      await writeJson(path.join(dir, 'config.json'), timmConfig('vit_small_patch14_reg4_dinov2', { ...TIMM_TINY, reg_tokens: 2, img_size: 32 },
        { ...IMAGENET, input_size: [3, 56, 56] }));
      await writeWeights(path.join(dir, 'model.safetensors'), timmTensors(w, c, { noEmbedClass: true }), 'F32');
    },
  },
  {
    label: 'timm vit_base_patch16_siglip_224 (F32, attention-pool head)', layout: 'timm', family: 'siglip', dtype: 'F32', mean: HALF,
    interpolation: 'bicubic', config: base({ classToken: false }),
    write: async (dir, w, c) => {
      await writeJson(path.join(dir, 'config.json'), { ...timmConfig('vit_base_patch16_siglip_224', TIMM_TINY, {}), global_pool: 'map' });
      await writeWeights(path.join(dir, 'model.safetensors'), timmTensors(w, c, { attnPool: true }), 'F32');
    },
  },
  {
    label: 'open_clip ViT with quick_gelu (F32, OpenAI names, text tower)', layout: 'open_clip', family: 'clip', dtype: 'F32',
    mean: OPENAI_MEAN, interpolation: 'bicubic', config: quickClip, write: (dir, w, c) => writeOpenClipQuick(dir, w, c, 'F32'),
  },
  {
    label: 'open_clip ViT with LayerScale and no ln_pre (F16)', layout: 'open_clip', family: 'clip', dtype: 'F16', mean: HALF,
    interpolation: 'bilinear', config: base({ patchBias: false, layerScale: true, layerNormEps: 1e-5 }),
    write: async (dir, w, c) => {
      await writeJson(path.join(dir, 'open_clip_config.json'), openClipConfig(
        { image_size: 32, layers: 2, width: 32, head_width: 16, mlp_ratio: 2, patch_size: 8, ls_init_value: 1e-5, no_ln_pre: true }, {},
        { mean: HALF, std: HALF, interpolation: 'bilinear' }));
      await writeWeights(path.join(dir, 'open_clip_model.safetensors'), openClipTensors(w, c), 'F16');
    },
  },
  {
    label: 'open_clip SigLIP with a timm tower (BF16, visual.trunk names)', layout: 'open_clip', family: 'siglip', dtype: 'BF16', mean: HALF,
    interpolation: 'bicubic', config: base({ classToken: false }),
    write: async (dir, w, c) => {
      await writeJson(path.join(dir, 'open_clip_config.json'), openClipConfig(
        { image_size: 32, timm_model_name: 'vit_base_patch16_siglip_224', timm_model_pretrained: false, timm_pool: 'map', timm_proj: 'none', timm_model_kwargs: TIMM_TINY },
        { init_logit_bias: -10, custom_text: true }, { mean: HALF, std: HALF, interpolation: 'bicubic', resize_mode: 'squash' }));
      const trunk = timmTensors(w, c, { attnPool: true });
      const tensors = new Map([...trunk].map(([n, v]) => [`visual.trunk.${n}`, v]));
      tensors.set('text.token_embedding.weight', { shape: [50, 16], data: new Float32Array(800) });
      tensors.set('logit_scale', { shape: [1], data: Float32Array.of(4.6) });
      tensors.set('logit_bias', { shape: [1], data: Float32Array.of(-10) });
      await writeWeights(path.join(dir, 'open_clip_model.safetensors'), tensors, 'BF16');
    },
  },
];

const N = 2;
const TOLERANCE = 2e-5;

/** The position embedding the config's grid gets, resampled independently of losa's resampler where needed. */
function expectedPos(w: Tensors, c: BackboneConfig, posGrid: number, mode: 'bicubic' | 'bicubic-aa'): Float32Array {
  const d = c.width;
  const g = c.imageSize / c.patchSize;
  const pos = w.get('pos_embed')!.data;
  const cls = c.classToken ? 1 : 0;
  const out = new Float32Array((cls + g * g) * d);
  out.set(pos.subarray(0, cls * d));
  out.set(resizeBicubic(pos.subarray(cls * d), posGrid, posGrid, d, g, g, mode), cls * d);
  return out;
}

/** Every tapped block of a folder's features against the reference forward. */
async function checkAgainstReference(dir: string, w: Tensors, c: BackboneConfig, pos?: Float32Array): Promise<Float32Array> {
  const frames = randomFrames(c, N, 9);
  const reference = referenceForward(c, w, frames, N, pos);
  const resolved = await resolveBackbone(dir);
  const bb = await loadBackbone({ config: resolved.config, weights: resolved.weights, pool: 'none', threads: 1 });
  try {
    const n = bb.tokens;
    expect(n).toBe((c.classToken ? 1 : 0) + (c.registers ?? 0) + (c.imageSize / c.patchSize) ** 2);
    const out = await bb.forward(frames, N);
    for (let l = 0; l < c.depth; l++) expect(relError(layerOf(out, N, c.depth, n, c.width, l), reference[l]!), `block ${l + 1}`).toBeLessThan(TOLERANCE);
    return out;
  } finally {
    await bb.dispose();
  }
}

describe.each(cases.map((c, i) => ({ ...c, i })))('$label', (k) => {
  let dir: string;
  let weights: Tensors;
  beforeAll(async () => {
    dir = path.join(root, `case-${k.i}`);
    await fs.mkdir(dir, { recursive: true });
    weights = roundTensors(makeTimmWeights(k.config, 100 + k.i, k.posGrid), k.dtype);
    await k.write(dir, weights, k.config);
  });

  it('is recognised, with the config its library builds and the preprocessing it describes', async () => {
    const resolved = await resolveBackbone(dir);
    expect(resolved.folder!.model.layout).toBe(k.layout);
    expect(resolved.folder!.model.family).toBe(k.family);
    const got = withDefaults(resolved.config);
    const want = withDefaults({ ...k.config, mean: got.mean, std: got.std, interpolation: got.interpolation });
    expect({ ...got, name: undefined }).toEqual({ ...want, name: undefined });
    expect(resolved.config.name).toBe(`case-${k.i}`);
    expect(got.mean).toEqual(k.mean);
    expect(got.interpolation).toBe(k.interpolation);
  });

  it('runs every block as the reference ViT does', async () => {
    const pos = k.posGrid ? expectedPos(weights, k.config, k.posGrid, k.resample!) : undefined;
    await checkAgainstReference(dir, weights, k.config, pos);
  });
});
