// The open_clip layout: open_clip_config.json ({model_cfg: {vision_cfg, quick_gelu, …},
// preprocess_cfg: {mean, std, interpolation, resize_mode}}) with open_clip_model.safetensors.
// open_clip's own VisionTransformer uses OpenAI's names (visual.conv1, visual.class_embedding,
// visual.transformer.resblocks.N …); a tower built from a timm model (`timm_model_name`, as the
// SigLIP ports are) uses timm's names under visual.trunk. Defaults are open_clip's CLIPVisionCfg
// and PreprocessCfg; the text tower is ignored.
import path from 'node:path';
import type { BackboneConfig } from './config.js';
import { Fields, interpolationFrom, OPENAI_MEAN, OPENAI_STD, type Family, type FolderTower, type Json, type Preprocessing } from './folder-types.js';
import { timmArch, timmConfig } from './layout-timm.js';
import { timmFamily } from './timm-archs.js';

/** CLIPVisionCfg switches for custom blocks that losa's graph does not have. */
const CUSTOM_BLOCKS = ['qk_norm', 'scaled_cosine_attn', 'scale_heads', 'scale_attn_inner', 'scale_attn', 'scale_fc'];

/** open_clip's own ViT tower (OpenAI layout). */
function visionTower(v: Fields, quickGelu: boolean): BackboneConfig {
  if (Array.isArray(v.o.layers)) v.fail('a ResNet image tower (vision_cfg.layers is a list) is not supported');
  for (const key of CUSTOM_BLOCKS) if (v.bool(key, false)) v.fail(`vision_cfg.${key} (a custom attention block) is not supported`);
  if (v.o.act_kwargs !== undefined && v.o.act_kwargs !== null) v.fail('vision_cfg.act_kwargs is not supported');
  const posType = v.str('pos_embed_type', 'learnable');
  if (posType !== 'learnable' && posType !== 'sin_cos_2d') v.fail(`vision_cfg.pos_embed_type "${posType}" is not supported`);
  const width = v.int('width', 768);
  const headWidth = v.int('head_width', 64);
  if (headWidth < 1 || width % headWidth !== 0) v.fail(`vision_cfg.width ${width} is not a multiple of head_width ${headWidth}`);
  const eps = new Fields(v.file, v.obj('norm_kwargs'), 'vision_cfg.norm_kwargs.').num('eps', 1e-5);
  return {
    imageSize: v.size('image_size', 224), patchSize: v.int('patch_size', 16), width, depth: v.int('layers', 12), heads: width / headWidth,
    mlpDim: Math.floor(width * v.num('mlp_ratio', 4)), classToken: true, layerNormEps: eps, gelu: quickGelu ? 'quick' : 'exact',
    mean: [0, 0, 0], std: [1, 1, 1], patchBias: false,
    ...(v.bool('no_ln_pre', false) ? {} : { lnPre: true }),
    ...(v.o.ls_init_value !== undefined && v.o.ls_init_value !== null ? { layerScale: true } : {}),
  };
}

/** Read an open_clip folder. */
export function readOpenClipFolder(dir: string, configFile: string, cfg: Json): FolderTower {
  const top = new Fields(configFile, cfg);
  const model = new Fields(configFile, top.obj('model_cfg'), 'model_cfg.');
  const v = new Fields(configFile, model.obj('vision_cfg'), 'model_cfg.vision_cfg.');
  const timmName = v.str('timm_model_name', '');
  let tower: BackboneConfig;
  let family: Family = 'clip';
  if (timmName) {
    // open_clip passes its image_size to timm as img_size; timm_model_kwargs as keyword overrides.
    tower = timmConfig(timmArch(timmName, configFile), new Fields(configFile, v.obj('timm_model_kwargs'), 'vision_cfg.timm_model_kwargs.'), v.size('image_size', 224), timmName);
    family = timmFamily(timmName);
  } else {
    tower = visionTower(v, model.bool('quick_gelu', false));
  }
  const p = new Fields(configFile, top.obj('preprocess_cfg'), 'preprocess_cfg.');
  const notes: string[] = [];
  const interpolation = interpolationFrom(p.str('interpolation', 'bicubic'), notes);
  const resizeMode = p.str('resize_mode', 'shortest');
  if (resizeMode !== 'shortest') notes.push(`open_clip resizes with resize_mode "${resizeMode}"; losa resizes the short side and crops the centre`);
  const imageSize = p.size('size', tower.imageSize);
  const pre: Preprocessing = {
    imageSize, mean: p.triple('mean', OPENAI_MEAN), std: p.triple('std', OPENAI_STD), interpolation, source: `${configFile} (preprocess_cfg)`, notes,
  };
  const config: BackboneConfig = { name: path.basename(path.resolve(dir)), ...tower, imageSize, mean: pre.mean, std: pre.std, interpolation };
  return { layout: 'open_clip', family, arch: timmName || 'VisionTransformer', configFile, config, preprocessing: pre };
}
