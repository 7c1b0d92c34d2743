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
  base, bitPreprocessor, clipModelConfig, clipPreprocessor, dinov2Config, HALF, HF_VISION_TINY, hfClipTensors, hfDinov2Tensors, hfViT,
  IMAGENET, OPENAI_MEAN, openClipConfig, openClipTensors, quickClip, roundTensors, TEXT_CFG, TIMM_TINY, timmConfig, timmTensors,
  writeJson, writeOpenClipQuick, writeShards, writeTimmQuickClip, writeWeights, type FloatDtype,
} from './backbone-fixtures.js';
import { layerOf, makeTimmWeights, randomFrames, referenceForward, relError, type Tensors } from './backbone-helpers.js';

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-folders-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

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
