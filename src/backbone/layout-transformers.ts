// The transformers layout: config.json with a `model_type`, preprocessor_config.json, and
// model.safetensors or shards with model.safetensors.index.json. Two-tower models (CLIP, SigLIP)
// keep the image tower in `vision_config`, which transformers writes as its difference from the
// tower's defaults: an absent key takes the default below (each from the library's
// configuration_*.py), and an old `vision_config_dict` overrides `vision_config` as the library does.
import path from 'node:path';
import { LosaError } from '../errors.js';
import type { BackboneConfig, GeluKind, Interpolation } from './config.js';
import {
  Fields, HALF, IMAGENET_MEAN, IMAGENET_STD, OPENAI_MEAN, OPENAI_STD, readJsonIfAny, type Family, type FolderTower, type Json, type Preprocessing,
} from './folder-types.js';

interface TowerDefaults {
  family: Family;
  /** Where the tower's keys are: the top level, or vision_config of a two-tower model. */
  nested: boolean;
  keys: Json;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  /** PIL resample code of the image processor's default. */
  resample: number;
}

const CLIP_VISION: Json = {
  hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, image_size: 224, patch_size: 32,
  hidden_act: 'quick_gelu', layer_norm_eps: 1e-5, num_channels: 3,
};
const SIGLIP_VISION: Json = {
  hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, image_size: 224, patch_size: 16,
  hidden_act: 'gelu_pytorch_tanh', layer_norm_eps: 1e-6, num_channels: 3,
};
const DINOV2: Json = {
  hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, mlp_ratio: 4, hidden_act: 'gelu', layer_norm_eps: 1e-6,
  image_size: 224, patch_size: 14, num_channels: 3, qkv_bias: true, use_swiglu_ffn: false,
};
const VIT: Json = {
  hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, hidden_act: 'gelu', layer_norm_eps: 1e-12,
  image_size: 224, patch_size: 16, num_channels: 3, qkv_bias: true,
};

/** The model types losa reads, with their image tower's defaults. */
export const TRANSFORMERS_TYPES: Readonly<Record<string, TowerDefaults>> = {
  vit: { family: 'vit', nested: false, keys: VIT, mean: HALF, std: HALF, resample: 2 },
  clip: { family: 'clip', nested: true, keys: CLIP_VISION, mean: OPENAI_MEAN, std: OPENAI_STD, resample: 3 },
  clip_vision_model: { family: 'clip', nested: false, keys: CLIP_VISION, mean: OPENAI_MEAN, std: OPENAI_STD, resample: 3 },
  dinov2: { family: 'dinov2', nested: false, keys: DINOV2, mean: IMAGENET_MEAN, std: IMAGENET_STD, resample: 3 },
  dinov2_with_registers: { family: 'dinov2', nested: false, keys: { ...DINOV2, num_register_tokens: 4 }, mean: IMAGENET_MEAN, std: IMAGENET_STD, resample: 3 },
  siglip: { family: 'siglip', nested: true, keys: SIGLIP_VISION, mean: HALF, std: HALF, resample: 3 },
  siglip_vision_model: { family: 'siglip', nested: false, keys: SIGLIP_VISION, mean: HALF, std: HALF, resample: 3 },
};

/** transformers' activation names (ACT2FN) → losa's GELU forms. */
const ACTIVATIONS: Record<string, GeluKind> = {
  gelu: 'exact', gelu_pytorch_tanh: 'tanh', gelu_new: 'tanh', gelu_fast: 'tanh', quick_gelu: 'quick',
};

/** PIL's resample codes, as preprocessor_config.json writes them. */
const RESAMPLE: Record<number, Interpolation> = { 0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic' };

function towerFields(file: string, cfg: Json, defaults: TowerDefaults): Fields {
  if (!defaults.nested) return new Fields(file, { ...defaults.keys, ...cfg });
  const top = new Fields(file, cfg);
  return new Fields(file, { ...defaults.keys, ...top.obj('vision_config'), ...top.obj('vision_config_dict') }, 'vision_config.');
}

/** The image tower of a transformers config, as a losa config. */
function towerConfig(f: Fields, type: string, family: Family): BackboneConfig {
  const width = f.int('hidden_size', 0);
  const act = f.str('hidden_act', '');
  const gelu = ACTIVATIONS[act];
  if (!gelu) f.fail(`${type}: activation "${act}" is not supported (supported: ${Object.keys(ACTIVATIONS).join(', ')})`);
  if (f.int('num_channels', 3) !== 3) f.fail(`${type}: ${f.o.num_channels} input channels are not supported (losa feeds RGB)`);
  if (!f.bool('qkv_bias', true)) f.fail(`${type}: attention without a qkv bias (qkv_bias false) is not supported`);
  if (f.bool('use_swiglu_ffn', false)) f.fail(`${type}: the SwiGLU MLP (use_swiglu_ffn, as in DINOv2 giant) is not supported`);
  const mlpDim = family === 'dinov2' ? Math.floor(width * f.num('mlp_ratio', 4)) : f.int('intermediate_size', 0);
  return {
    imageSize: f.int('image_size', 0), patchSize: f.int('patch_size', 0), width, depth: f.int('num_hidden_layers', 0),
    heads: f.int('num_attention_heads', 0), mlpDim, classToken: family !== 'siglip', layerNormEps: f.num('layer_norm_eps', 0),
    gelu: gelu!, mean: [0, 0, 0], std: [1, 1, 1],
    ...(family === 'clip' ? { lnPre: true, patchBias: false } : {}),
    ...(family === 'dinov2' ? { layerScale: true } : {}),
    ...(f.o.num_register_tokens ? { registers: f.int('num_register_tokens', 0) } : {}),
  };
}

/** preprocessor_config.json: mean, std, the size the model sees, and the resize. */
async function preprocessing(dir: string, defaults: TowerDefaults, modelSize: number): Promise<Preprocessing> {
  const file = path.join(dir, 'preprocessor_config.json');
  const raw = await readJsonIfAny(file);
  if (!raw) {
    return {
      imageSize: modelSize, mean: [...defaults.mean], std: [...defaults.std], interpolation: RESAMPLE[defaults.resample]!,
      source: 'no preprocessor_config.json: the image processor\'s defaults', notes: [],
    };
  }
  const f = new Fields(file, raw);
  const notes: string[] = [];
  const crop = f.o.crop_size !== undefined && f.bool('do_center_crop', true);
  const resizeTo = f.size('size', modelSize);
  const imageSize = crop ? f.size('crop_size', modelSize) : resizeTo;
  // {shortest_edge: s}, or a bare number where the processor crops (CLIP's old feature extractor).
  const shortest = (typeof f.o.size === 'object' && f.o.size !== null && 'shortest_edge' in f.o.size) || (crop && typeof f.o.size === 'number');
  if (crop && shortest && resizeTo !== imageSize) {
    notes.push(`the processor resizes the short side to ${resizeTo} and crops ${imageSize} (crop_pct ${(imageSize / resizeTo).toFixed(3)}); losa resizes it to ${imageSize}`);
  }
  if (!crop && !shortest && f.o.size !== undefined) notes.push(`the processor squashes frames to ${imageSize}×${imageSize}; losa keeps their aspect and crops the centre`);
  const code = f.int('resample', defaults.resample);
  const interpolation = RESAMPLE[code] ?? 'bicubic';
  if (!RESAMPLE[code]) notes.push(`PIL resample ${code} has no ffmpeg counterpart; losa resizes bicubically`);
  return { imageSize, mean: f.triple('image_mean', defaults.mean), std: f.triple('image_std', defaults.std), interpolation, source: file, notes };
}

/** Read a transformers folder whose config.json is `cfg`. */
export async function readTransformersFolder(dir: string, configFile: string, cfg: Json): Promise<FolderTower> {
  const type = new Fields(configFile, cfg).str('model_type', '');
  const defaults = TRANSFORMERS_TYPES[type];
  if (!defaults) {
    throw new LosaError(`${configFile}: model_type "${type}" is not supported (supported: ${Object.keys(TRANSFORMERS_TYPES).join(', ')})`);
  }
  const tower = towerConfig(towerFields(configFile, cfg, defaults), type, defaults.family);
  const pre = await preprocessing(dir, defaults, tower.imageSize);
  const config: BackboneConfig = {
    name: path.basename(path.resolve(dir)), ...tower, imageSize: pre.imageSize, mean: pre.mean, std: pre.std, interpolation: pre.interpolation,
  };
  return { layout: 'transformers', family: defaults.family, arch: type, configFile, config, preprocessing: pre };
}
