// The issue's own example: `losa features clip.mp4 --backbone ./folder --out f.safetensors` on a
// model folder as the hub writes it, whose preprocessing (size, mean, std, resize interpolation)
// and weights come with it; and `losa info --backbone FOLDER [--json]`.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBackbone, resolveBackbone } from '../src/backbone/index.js';
import { createRng } from '../src/random.js';
import { readSafetensorsFloat32 } from '../src/safetensors.js';
import { loadClips, writeVideo } from '../src/video/index.js';
import { normalizeFrames } from '../src/backbone/preprocess.js';
import { base, clipModelConfig, hfClipTensors, writeJson, writeWeights } from './backbone-fixtures.js';
import { makeTimmWeights, relError } from './backbone-helpers.js';
import { runCli } from './cli-helpers.js';

let dir: string;
const config = base({ lnPre: true, patchBias: false, gelu: 'quick', layerNormEps: 1e-5 });
const MEAN = [0.4, 0.45, 0.5];
const STD = [0.2, 0.25, 0.3];

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-folder-cli-'));
  const folder = path.join(dir, 'clip-vit-tiny');
  await writeJson(path.join(folder, 'config.json'), clipModelConfig({}));
  await writeJson(path.join(folder, 'preprocessor_config.json'), {
    crop_size: 32, do_center_crop: true, do_normalize: true, do_resize: true, feature_extractor_type: 'CLIPFeatureExtractor',
    image_mean: MEAN, image_std: STD, resample: 2, size: 32,
  });
  await writeWeights(path.join(folder, 'model.safetensors'), hfClipTensors(makeTimmWeights(config, 31), config, false), 'F16');
  const W = 48, H = 40;
  const frames = Array.from({ length: 10 }, (_, t) => {
    const f = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      f[i] = (x * 11 + t * 20) % 256; f[i + 1] = (y * 13) % 256; f[i + 2] = ((x * y) * 3 + t * 9) % 256;
    }
    return f;
  });
  await writeVideo(path.join(dir, 'clip.mp4'), frames, { width: W, height: H, fps: 10 });
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** The folder's backbone run directly on the clip, resized with `interpolation`. */
async function direct(interpolation: 'bilinear' | 'bicubic'): Promise<Float32Array> {
  const r = await resolveBackbone(path.join(dir, 'clip-vit-tiny'));
  const { clips } = await loadClips(path.join(dir, 'clip.mp4'), { numFrames: 4, size: 32, mode: 'test', interpolation }, createRng(0));
  const bb = await loadBackbone({ config: r.config, weights: r.weights, threads: 1 });
  try {
    return await bb.forward(normalizeFrames(clips[0]!.frames, 4, 32, r.config.mean, r.config.std), 4);
  } finally {
    await bb.dispose();
  }
}

describe('losa features --backbone FOLDER', () => {
  it('reads the folder\'s config, preprocessing and weights, and says which layout it used', async () => {
    const r = await runCli(['features', 'clip.mp4', '--backbone', './clip-vit-tiny', '--num-frames', '4', '--out', 'f.safetensors'], dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`backbone folder ${path.join(dir, 'clip-vit-tiny')}: transformers layout, clip (clip), weights model.safetensors\n`);
    expect(r.stdout).toMatch(/backbone clip-vit-tiny .*weights .*model\.safetensors/);
    const { tensors, metadata } = await readSafetensorsFloat32(path.join(dir, 'f.safetensors'));
    expect(tensors.get('features')!.shape).toEqual([4, 2, 5, 32]);
    expect(JSON.parse(metadata.backbone_config!)).toMatchObject({ mean: MEAN, std: STD, lnPre: true, patchBias: false, gelu: 'quick', interpolation: 'bilinear' });
    const got = tensors.get('features')!.data;
    // The frames were resized bilinearly, as the folder's resample 2 says: the same as running the
    // backbone on bilinear frames, and not the same as on bicubic ones.
    expect(relError(got, await direct('bilinear'))).toBeLessThan(1e-6);
    expect(relError(got, await direct('bicubic'))).toBeGreaterThan(1e-3);
  });
});

describe('losa info --backbone FOLDER', () => {
  it('prints the layout, family, parameters, preprocessing and the tensors ignored', async () => {
    const r = await runCli(['info', '--backbone', path.join(dir, 'clip-vit-tiny'), '--memory', '1GiB'], dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^folder\s+.*clip-vit-tiny: transformers layout, clip \(clip\)$/m);
    expect(r.stdout).toMatch(/^files\s+config\.json; weights model\.safetensors \(F16, hf-clip under vision_model\.\)$/m);
    expect(r.stdout).toMatch(/^preprocessing\s+32 px, bilinear resize, mean \[0\.4, 0\.45, 0\.5\], std \[0\.2, 0\.25, 0\.3\] \(from .*preprocessor_config\.json\)$/m);
    expect(r.stdout).toMatch(/^tensors\s+37 used; 10 ignored: vision_model\.embeddings\.position_ids, vision_model\.post_layernorm\.\* \(2\), text_model\.embeddings\.\* \(2\), text_model\.encoder\.layers\.0\.self_attn\.q_proj\.weight, text_model\.final_layer_norm\.weight, logit_scale, visual_projection\.weight, text_projection\.weight$/m);
    expect(r.stdout).toMatch(/^shape\s+32 px, patch 8, 17 tokens, width 32, depth 2, 2 heads, MLP 64, class token, ln_pre, no patch bias, GELU quick, LayerNorm eps 0\.00001$/m);
    // Parameters: patch 3·8·8·32, class token, 17 position rows, ln_pre, 2 blocks, the final LayerNorm.
    const block = 2 * 32 + (3 * 32 * 32 + 96) + (32 * 32 + 32) + 2 * 32 + (32 * 64 + 64) + (64 * 32 + 32);
    const params = 3 * 64 * 32 + 32 + 17 * 32 + 64 + 2 * block + 64;
    expect(r.stdout).toContain(`${params.toLocaleString('en-US')} (`);
  });

  it('prints one JSON object with the same, and every ignored tensor by name', async () => {
    const r = await runCli(['info', '--backbone', path.join(dir, 'clip-vit-tiny'), '--json'], dir);
    expect(r.status).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.source).toMatchObject({ layout: 'transformers', family: 'clip', arch: 'clip', naming: 'hf-clip under vision_model.', dtypes: ['F16'], usedTensors: 37 });
    expect(o.source.preprocessing).toMatchObject({ imageSize: 32, mean: MEAN, std: STD, interpolation: 'bilinear' });
    expect(o.source.ignoredTensors).toContain('logit_scale');
    expect(o.source.ignoredTensors).toContain('vision_model.embeddings.position_ids');
    expect(o.source.ignoredTensors).toHaveLength(10);
    expect(o.config).toMatchObject({ lnPre: true, patchBias: false, gelu: 'quick' });
  });

  it('fails in one line on a folder it cannot read', async () => {
    const empty = path.join(dir, 'not-a-model');
    await fs.mkdir(empty, { recursive: true });
    const r = await runCli(['info', '--backbone', empty], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^losa: error: .*not-a-model: not a model folder losa knows: looked for config\.json .*; found nothing\n$/);
  });
});
