// Model folders beyond one clean layout: two layouts of the same weights in one folder (timm with
// open_clip, sharded transformers with open_clip) give the same features; what real files carry
// and the features never use is ignored and listed; bad folders fail in one line naming the file,
// before anything is loaded; and every config field that changes the features changes the digest.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backboneDigest, canonicalConfigJson, inspectWeights, loadBackbone, resolveBackbone, resolveFolder, type BackboneConfig,
} from '../src/backbone/index.js';
import {
  base, clipModelConfig, clipPreprocessor, dinov2Config, hfClipTensors, openClipConfig, openClipTensors, quickClip, timmConfig,
  TIMM_TINY, writeJson, writeOpenClipQuick, writeShards, writeTimmQuickClip, writeWeights,
} from './backbone-fixtures.js';
import { layerOf, makeTimmWeights, randomFrames, referenceForward, relError, smallConfig } from './backbone-helpers.js';

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-layouts-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function features(dir: string, frames: Float32Array, n: number): Promise<Float32Array> {
  const r = await resolveBackbone(dir);
  const bb = await loadBackbone({ config: r.config, weights: r.weights, pool: 'none', threads: 1 });
  try {
    return await bb.forward(frames, n);
  } finally {
    await bb.dispose();
  }
}

/** A folder holding only some files of another (as if only one layout had been downloaded). */
async function subset(from: string, to: string, files: string[]): Promise<string> {
  await fs.mkdir(to, { recursive: true });
  for (const f of files) await fs.copyFile(path.join(from, f), path.join(to, f));
  return to;
}

describe('a folder holding two layouts', () => {
  it('timm + open_clip: uses timm, says so, and both give the same features', async () => {
    const dir = path.join(root, 'timm-openclip');
    const w = makeTimmWeights(quickClip, 21);
    await writeTimmQuickClip(dir, w, quickClip, 'F32');
    await writeOpenClipQuick(dir, w, quickClip, 'F32');
    const folder = await resolveFolder(dir);
    expect(folder.model.layout).toBe('timm');
    expect(folder.others).toEqual([{ layout: 'open_clip', status: 'the same tower' }]);
    expect(folder.note).toBe(`${dir}: timm layout, clip (vit_base_patch16_clip_quickgelu_224), weights model.safetensors; also open_clip: the same tower`);
    const openClip = await subset(dir, path.join(root, 'openclip-only'), ['open_clip_config.json', 'open_clip_model.safetensors']);
    expect((await resolveFolder(openClip)).model.layout).toBe('open_clip');
    const frames = randomFrames(quickClip, 2, 5);
    const a = await features(dir, frames, 2);
    const b = await features(openClip, frames, 2);
    expect(relError(a, b)).toBeLessThan(1e-6);
    const reference = referenceForward(quickClip, w, frames, 2);
    for (let l = 0; l < 2; l++) expect(relError(layerOf(a, 2, 2, 17, 32, l), reference[l]!)).toBeLessThan(2e-5);
  });

  it('sharded transformers + open_clip (as LAION\'s bigG folder): uses transformers, both give the same features', async () => {
    const dir = path.join(root, 'hf-openclip');
    const config = base({ lnPre: true, patchBias: false, layerNormEps: 1e-5 }); // LAION towers: exact GELU
    const w = makeTimmWeights(config, 22);
    await writeJson(path.join(dir, 'config.json'), clipModelConfig({ hidden_act: 'gelu' }));
    await clipPreprocessor(dir);
    const shards = await writeShards(dir, hfClipTensors(w, config, false), 'F32');
    expect(shards).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    await writeJson(path.join(dir, 'open_clip_config.json'), openClipConfig({ image_size: 32, layers: 2, width: 32, head_width: 16, mlp_ratio: 2, patch_size: 8 }, {}, {}));
    await writeWeights(path.join(dir, 'open_clip_model.safetensors'), openClipTensors(w, config), 'F32');
    const folder = await resolveFolder(dir);
    expect(folder.model.layout).toBe('transformers');
    expect(folder.model.weights).toBe(path.join(dir, 'model.safetensors.index.json'));
    expect(folder.others).toEqual([{ layout: 'open_clip', status: 'the same tower' }]);
    const openClip = await subset(dir, path.join(root, 'hf-openclip-only'), ['open_clip_config.json', 'open_clip_model.safetensors']);
    const frames = randomFrames(config, 2, 6);
    expect(relError(await features(dir, frames, 2), await features(openClip, frames, 2))).toBeLessThan(1e-6);
  });

  it('says when the other layout describes a different tower', async () => {
    const dir = path.join(root, 'disagree');
    const w = makeTimmWeights(quickClip, 23);
    await writeTimmQuickClip(dir, w, quickClip, 'F32');
    // open_clip's config without quick_gelu: exact GELU, another tower.
    await writeJson(path.join(dir, 'open_clip_config.json'), openClipConfig({ image_size: 32, layers: 2, width: 32, head_width: 16, mlp_ratio: 2, patch_size: 8 }, {}, {}));
    await writeWeights(path.join(dir, 'open_clip_model.safetensors'), openClipTensors(w, quickClip), 'F32');
    expect((await resolveFolder(dir)).note).toMatch(/timm layout.*; also open_clip: a different tower \(its config differs\)$/);
  });
});

describe('tensors the features never use', () => {
  it('are ignored, not refused, and listed: text towers, projections, a 0-d logit_scale, I64 position_ids, heads', async () => {
    const dir = path.join(root, 'clip-extras');
    const w = makeTimmWeights(quickClip, 24);
    await writeJson(path.join(dir, 'config.json'), clipModelConfig({}));
    await writeWeights(path.join(dir, 'model.safetensors'), hfClipTensors(w, quickClip, false), 'F16');
    const r = await resolveBackbone(dir);
    const report = await inspectWeights(r.weights!, r.config);
    expect(report.naming).toEqual({ kind: 'hf-clip', prefix: 'vision_model.' });
    expect(report.dtypes).toEqual(['F16']);
    expect(report.ignored.sort()).toEqual([
      'logit_scale', 'text_model.embeddings.position_ids', 'text_model.embeddings.token_embedding.weight',
      'text_model.encoder.layers.0.self_attn.q_proj.weight', 'text_model.final_layer_norm.weight', 'text_projection.weight',
      'vision_model.embeddings.position_ids', 'vision_model.post_layernorm.bias', 'vision_model.post_layernorm.weight', 'visual_projection.weight',
    ]);
    // 5 embedding tensors + 16 per block
    expect(report.used).toBe(5 + 16 * 2);
  });
});

describe('bad folders, one line each, naming the file', () => {
  const expectOneLine = async (promise: Promise<unknown>, pattern: RegExp): Promise<void> => {
    const err = await promise.then(() => undefined, (e: Error) => e);
    expect(err, 'should fail').toBeInstanceOf(Error);
    expect(err!.message).toMatch(pattern);
    expect(err!.message).not.toContain('\n');
  };
  const folder = async (name: string, files: Record<string, unknown>): Promise<string> => {
    const dir = path.join(root, name);
    for (const [file, content] of Object.entries(files)) await writeJson(path.join(dir, file), content);
    return dir;
  };

  it('a folder with no config losa knows lists what it looked for', async () => {
    const dir = await folder('empty', { 'README.json': {} });
    await expectOneLine(resolveBackbone(dir), new RegExp(`^${dir}: not a model folder losa knows: looked for config\\.json \\(transformers: model_type; timm: architecture\\) and open_clip_config\\.json \\(open_clip\\); found README\\.json$`));
  });

  it('a model_type or architecture losa does not support is named, with the supported ones', async () => {
    const eva = await folder('eva-hf', { 'config.json': { model_type: 'eva', hidden_size: 32 } });
    await expectOneLine(resolveBackbone(eva), /eva-hf\/config\.json: model_type "eva" is not supported \(supported: vit, clip, clip_vision_model, dinov2, dinov2_with_registers, siglip, siglip_vision_model\)$/);
    const evaTimm = await folder('eva-timm', { 'config.json': timmConfig('eva02_base_patch14_224.mim_in22k', {}, {}) });
    await expectOneLine(resolveBackbone(evaTimm), /eva-timm\/config\.json: timm architecture "eva02_base_patch14_224\.mim_in22k" is not supported \(supported: vit_tiny_patch16_224, .*vit_so400m_patch16_siglip_512\)$/);
    const giant = await folder('giant-timm', { 'config.json': timmConfig('vit_giant_patch14_dinov2', {}, {}) });
    await expectOneLine(resolveBackbone(giant), /giant-timm\/config\.json: timm architecture "vit_giant_patch14_dinov2" has a SwiGLU MLP, which losa does not support \(supported: /);
    const giantHf = await folder('giant-hf', { 'config.json': dinov2Config('dinov2', { use_swiglu_ffn: true, hidden_size: 1536 }) });
    await expectOneLine(resolveBackbone(giantHf), /giant-hf\/config\.json: dinov2: the SwiGLU MLP \(use_swiglu_ffn, as in DINOv2 giant\) is not supported$/);
    const rn50 = await folder('rn50', { 'open_clip_config.json': { model_cfg: { vision_cfg: { layers: [3, 4, 6, 3], width: 64 } } } });
    await expectOneLine(resolveBackbone(rn50), /rn50\/open_clip_config\.json: a ResNet image tower \(vision_cfg\.layers is a list\) is not supported$/);
    const relu = await folder('relu', { 'config.json': { model_type: 'vit', hidden_act: 'relu' } });
    await expectOneLine(resolveBackbone(relu), /relu\/config\.json: vit: activation "relu" is not supported \(supported: gelu, gelu_pytorch_tanh, gelu_new, gelu_fast, quick_gelu\)$/);
    const args = await folder('args', { 'config.json': timmConfig('vit_base_patch16_224', { qk_norm: true }, {}) });
    await expectOneLine(resolveBackbone(args), /args\/config\.json: vit_base_patch16_224: qk_norm is not supported$/);
  });

  it('a folder whose weights are missing, or pickled only, says so', async () => {
    const dir = await folder('no-weights', { 'config.json': timmConfig('vit_base_patch16_224', TIMM_TINY, {}) });
    await fs.writeFile(path.join(dir, 'pytorch_model.bin'), 'pickle');
    await expectOneLine(resolveBackbone(dir), /no-weights: no layout losa can read: timm: no model\.safetensors or model\.safetensors\.index\.json \(only pytorch_model\.bin: losa reads safetensors\)$/);
  });

  it('a shard listed in the index but missing fails before anything loads, naming the shard', async () => {
    const dir = path.join(root, 'missing-shard');
    const config = base({ lnPre: true, patchBias: false, layerNormEps: 1e-5, gelu: 'quick' });
    await writeJson(path.join(dir, 'config.json'), clipModelConfig({}));
    await writeShards(dir, hfClipTensors(makeTimmWeights(config, 25), config, false), 'F32');
    await fs.rm(path.join(dir, 'model-00002-of-00002.safetensors'));
    const tmpDir = await fs.mkdtemp(path.join(root, 'tmp-'));
    const r = await resolveBackbone(dir);
    await expectOneLine(loadBackbone({ config: r.config, weights: r.weights, threads: 1, tmpDir }),
      new RegExp(`^${dir}/model-00002-of-00002\\.safetensors: shard missing \\(model\\.safetensors\\.index\\.json lists \\d+ tensors in it; download it again\\)$`));
    expect(await fs.readdir(tmpDir)).toEqual([]); // nothing half-written
  });

  it('weights that do not match the folder\'s config keep the one-line report of what differs', async () => {
    const dir = path.join(root, 'deeper-config');
    await writeJson(path.join(dir, 'config.json'), timmConfig('vit_base_patch16_224', { ...TIMM_TINY, depth: 3 }, {}));
    await writeWeights(path.join(dir, 'model.safetensors'), new Map(makeTimmWeights(base({}), 26)), 'F32');
    const r = await resolveBackbone(dir);
    await expectOneLine(loadBackbone({ config: r.config, weights: r.weights, threads: 1 }),
      /model\.safetensors: weights do not match deeper-config \(width 32, depth 3, timm names\) \(the file has 2 blocks, the config 3\): missing 12: blocks\.2\.norm1\.weight/);
  });

  it('a config asking for a part the file\'s naming has no tensor for says which', async () => {
    const dir = path.join(root, 'vit-with-ln-pre');
    const file = path.join(dir, 'w.safetensors');
    const config = smallConfig({ depth: 1 });
    const { toHfNames } = await import('./backbone-helpers.js');
    await writeWeights(file, new Map(toHfNames(makeTimmWeights(config, 27), config)), 'F32');
    await expectOneLine(loadBackbone({ config: { ...config, lnPre: true }, weights: file, threads: 1 }),
      /missing 1: ln_pre \(the config has one; Hugging Face ViT names have none\)/);
  });
});

describe('the digest (and so the feature cache key)', () => {
  const plain = smallConfig();
  it('is unchanged for a plain ViT config, whose canonical JSON is as before the new fields', () => {
    expect(canonicalConfigJson(plain)).toBe('{"imageSize":32,"patchSize":8,"width":32,"depth":3,"heads":2,"mlpDim":64,"classToken":true,"layerNormEps":0.000001,"gelu":"exact","mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5]}');
    expect(canonicalConfigJson({ ...plain, lnPre: false, patchBias: true, layerScale: false, registers: 0, interpolation: 'bicubic' })).toBe(canonicalConfigJson(plain));
  });

  it('changes with every field that changes the features', () => {
    const variants: Partial<BackboneConfig>[] = [
      { lnPre: true }, { patchBias: false }, { layerScale: true }, { registers: 4 }, { interpolation: 'bilinear' }, { gelu: 'quick' },
      { classToken: false }, { imageSize: 40 },
    ];
    const digest = (c: BackboneConfig) => backboneDigest(canonicalConfigJson(c), 'random:0', 'grid:2', 'all');
    const seen = new Set([digest(plain)]);
    for (const v of variants) seen.add(digest({ ...plain, ...v }));
    expect(seen.size).toBe(variants.length + 1);
  });

  it('of a loaded backbone changes when a position embedding is resampled', async () => {
    const dir = path.join(root, 'digest-resample');
    const config = smallConfig({ depth: 1 });
    const file = path.join(dir, 'w.safetensors');
    await writeWeights(file, new Map(makeTimmWeights(config, 28, 3)), 'F32'); // a 3×3 grid for a 4×4 config
    const bb = await loadBackbone({ config, weights: file, threads: 1 });
    await bb.dispose();
    const sha = bb.digest;
    const same = await loadBackbone({ config, weights: file, threads: 1 });
    await same.dispose();
    expect(same.digest).toBe(sha);
    const plainFile = path.join(dir, 'w4.safetensors');
    await writeWeights(plainFile, new Map(makeTimmWeights(config, 28, 4)), 'F32');
    const other = await loadBackbone({ config, weights: plainFile, threads: 1 });
    await other.dispose();
    expect(other.digest).not.toBe(sha);
  });
});

describe('configs as older library versions wrote them', () => {
  const withWeights = async (dir: string, file: string): Promise<void> => writeWeights(path.join(dir, file), new Map(), 'F32');

  it('transformers CLIP: vision_config_dict overrides vision_config; an old feature extractor\'s sizes are numbers', async () => {
    const dir = path.join(root, 'old-clip');
    await writeJson(path.join(dir, 'config.json'), {
      ...clipModelConfig({ patch_size: 32, image_size: 224, hidden_size: 768 }),
      vision_config_dict: { patch_size: 8, image_size: 32, hidden_size: 32 },
    });
    await writeJson(path.join(dir, 'preprocessor_config.json'), {
      crop_size: 32, do_center_crop: true, do_normalize: true, do_resize: true, feature_extractor_type: 'CLIPFeatureExtractor',
      image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711], resample: 3, size: 40,
    });
    await withWeights(dir, 'model.safetensors');
    const { model } = await resolveFolder(dir);
    expect([model.config.patchSize, model.config.imageSize, model.config.width]).toEqual([8, 32, 32]);
    expect(model.preprocessing.notes).toEqual(['the processor resizes the short side to 40 and crops 32 (crop_pct 0.800); losa resizes it to 32']);
  });

  it('timm before pretrained_cfg: the fields at the top level', async () => {
    const dir = path.join(root, 'old-timm');
    await writeJson(path.join(dir, 'config.json'), {
      architecture: 'vit_small_patch16_224', num_classes: 1000, num_features: 384, input_size: [3, 32, 32], interpolation: 'bilinear',
      crop_pct: 0.875, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], first_conv: 'patch_embed.proj', classifier: 'head',
    });
    await withWeights(dir, 'model.safetensors');
    const { model } = await resolveFolder(dir);
    expect(model.config).toMatchObject({ width: 384, depth: 12, heads: 6, mlpDim: 1536, imageSize: 32, interpolation: 'bilinear' });
    expect(model.preprocessing.notes).toEqual(["timm's eval transform resizes to 36 and crops 32 (crop_pct 0.875); losa resizes to 32"]);
  });
});
