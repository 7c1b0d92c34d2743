// The timm layout: config.json with `architecture`, optional `model_args` (keyword overrides of
// the architecture's own model_args, applied as timm applies them: dict(model_args, **kwargs)),
// and `pretrained_cfg` (mean, std, input_size, interpolation, crop_pct); weights in
// model.safetensors. The architecture must be one of TIMM_ARCHS.
import path from 'node:path';
import { LosaError } from '../errors.js';
import type { BackboneConfig, GeluKind } from './config.js';
import { Fields, HALF, interpolationFrom, type FolderTower, type Json, type Preprocessing } from './folder-types.js';
import { TIMM_ARCHS, timmFamily, type TimmArch } from './timm-archs.js';

const ACTS: Record<string, GeluKind> = { gelu: 'exact', gelu_tanh: 'tanh', quick_gelu: 'quick' };

/** model_args keys that change nothing losa computes (dropout, heads, pooling after the blocks). */
const HARMLESS_ARGS = new Set([
  'num_classes', 'global_pool', 'final_norm', 'fc_norm', 'pool_include_prefix', 'dynamic_img_size', 'dynamic_img_pad',
  'drop_rate', 'pos_drop_rate', 'patch_drop_rate', 'proj_drop_rate', 'attn_drop_rate', 'drop_path_rate', 'weight_init', 'fix_init',
]);
/** model_args keys losa applies. */
const APPLIED_ARGS = new Set([
  'img_size', 'patch_size', 'embed_dim', 'depth', 'num_heads', 'mlp_ratio', 'class_token', 'reg_tokens', 'no_embed_class', 'pre_norm',
  'init_values', 'act_layer', 'in_chans', 'qkv_bias', 'qk_norm',
]);

function supportedList(): string {
  return Object.keys(TIMM_ARCHS).filter((a) => !TIMM_ARCHS[a]!.unsupported).join(', ');
}

/** The architecture entry for a name (a `.tag` suffix is dropped), or a one-line refusal. */
export function timmArch(name: string, where: string): TimmArch {
  const arch = TIMM_ARCHS[name.replace(/\..*$/, '')];
  if (!arch) throw new LosaError(`${where}: timm architecture "${name}" is not supported (supported: ${supportedList()})`);
  if (arch.unsupported) throw new LosaError(`${where}: timm architecture "${name}" has ${arch.unsupported}, which losa does not support (supported: ${supportedList()})`);
  return arch;
}

/** An architecture with model_args applied, as a losa config (mean, std: placeholders). */
export function timmConfig(arch: TimmArch, args: Fields, imageSize: number, name: string): BackboneConfig {
  for (const key of Object.keys(args.o)) {
    if (!APPLIED_ARGS.has(key) && !HARMLESS_ARGS.has(key)) args.fail(`${name}: model_args "${key}" is not supported`);
  }
  if (args.int('in_chans', 3) !== 3) args.fail(`${name}: in_chans ${String(args.o.in_chans)} is not supported (losa feeds RGB)`);
  if (!args.bool('qkv_bias', true)) args.fail(`${name}: qkv_bias false is not supported`);
  if (args.bool('qk_norm', false)) args.fail(`${name}: qk_norm is not supported`);
  const width = args.int('embed_dim', arch.width);
  const act = args.str('act_layer', arch.act ?? 'gelu');
  if (!ACTS[act]) args.fail(`${name}: act_layer "${act}" is not supported (supported: ${Object.keys(ACTS).join(', ')})`);
  const preNorm = args.bool('pre_norm', arch.preNorm ?? false);
  const initValues = args.o.init_values === undefined ? arch.initValues : args.num('init_values', 0);
  return {
    imageSize: args.size('img_size', imageSize), patchSize: args.int('patch_size', arch.patch), width,
    depth: args.int('depth', arch.depth), heads: args.int('num_heads', arch.heads),
    mlpDim: Math.floor(width * args.num('mlp_ratio', arch.mlpRatio ?? 4)),
    classToken: args.bool('class_token', arch.classToken ?? true), layerNormEps: arch.eps ?? 1e-6, gelu: ACTS[act]!,
    mean: [0, 0, 0], std: [1, 1, 1],
    ...(preNorm ? { lnPre: true, patchBias: false } : {}),
    ...(initValues ? { layerScale: true } : {}),
    ...(args.int('reg_tokens', arch.regTokens ?? 0) > 0 ? { registers: args.int('reg_tokens', arch.regTokens ?? 0) } : {}),
  };
}

/** pretrained_cfg: mean, std, input size, interpolation; crop_pct is noted, not applied. */
function preprocessing(f: Fields, configFile: string, imageSize: number): Preprocessing {
  const notes: string[] = [];
  const interpolation = interpolationFrom(f.str('interpolation', 'bicubic'), notes);
  const cropPct = f.num('crop_pct', 0.9);
  if (cropPct !== 1) notes.push(`timm's eval transform resizes to ${Math.floor(imageSize / cropPct)} and crops ${imageSize} (crop_pct ${cropPct}); losa resizes to ${imageSize}`);
  return { imageSize, mean: f.triple('mean', HALF), std: f.triple('std', HALF), interpolation, source: `${configFile} (pretrained_cfg)`, notes };
}

/** Read a timm folder whose config.json is `cfg`. */
export function readTimmFolder(dir: string, configFile: string, cfg: Json): FolderTower {
  const top = new Fields(configFile, cfg);
  const name = top.str('architecture', '');
  const arch = timmArch(name, configFile);
  // Before pretrained_cfg existed, timm wrote its fields at the top level.
  const pretrained = new Fields(configFile, cfg.pretrained_cfg === undefined ? cfg : top.obj('pretrained_cfg'), 'pretrained_cfg.');
  const inputSize = pretrained.size('input_size', 224);
  const tower = timmConfig(arch, new Fields(configFile, top.obj('model_args'), 'model_args.'), inputSize, name);
  const pre = preprocessing(pretrained, configFile, tower.imageSize);
  const config: BackboneConfig = {
    name: path.basename(path.resolve(dir)), ...tower, mean: pre.mean, std: pre.std, interpolation: pre.interpolation,
  };
  return { layout: 'timm', family: timmFamily(name), arch: name.replace(/\..*$/, ''), configFile, config, preprocessing: pre };
}
