// Configs, presets, parameter counts, FLOPs, chunk sizes, and the --pool / --layers specs.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BACKBONE_PRESETS, chunkForBudget, countBackboneParams, flopsPerFrame, parseLayers, parsePool, pooledTokens,
  poolingMatrix, resolveBackboneConfig, resolveChunk,
} from '../src/backbone/index.js';
import { smallConfig } from './backbone-helpers.js';

describe('presets', () => {
  // [width, depth, heads, mlp, patch] from the papers that defined them.
  const papers: Record<string, [number, number, number, number, number]> = {
    'vit-ti16': [192, 12, 3, 768, 16],
    'vit-s16': [384, 12, 6, 1536, 16],
    'vit-b16': [768, 12, 12, 3072, 16],
    'vit-l16': [1024, 24, 16, 4096, 16],
    'vit-h14': [1280, 32, 16, 5120, 14],
    'vit-g14': [1408, 40, 16, 6144, 14],
    'vit-bigg14': [1664, 48, 16, 8192, 14],
    'vit-e14': [1792, 56, 16, 15360, 14],
  };
  it('ship every plain ViT preset with the papers\' shapes', async () => {
    expect([...BACKBONE_PRESETS].slice(0, 8)).toEqual(Object.keys(papers));
    for (const name of Object.keys(papers)) {
      const c = await resolveBackboneConfig(name);
      expect([c.width, c.depth, c.heads, c.mlpDim, c.patchSize], name).toEqual(papers[name]);
      expect(c.name).toBe(name);
      expect(c.imageSize).toBe(224);
      expect(c.classToken).toBe(true);
    }
  });

  it('count parameters as timm does (backbone only)', async () => {
    // timm's totals with their 1000-class heads, less the head (width × 1000 + 1000).
    const timmTotals: Record<string, number> = {
      'vit-ti16': 5_717_416, 'vit-s16': 22_050_664, 'vit-b16': 86_567_656, 'vit-l16': 304_326_632, 'vit-h14': 632_045_800,
    };
    for (const [name, total] of Object.entries(timmTotals)) {
      const c = await resolveBackboneConfig(name);
      expect(countBackboneParams(c), name).toBe(total - (c.width * 1000 + 1000));
    }
    expect(countBackboneParams(await resolveBackboneConfig('vit-b16'))).toBe(85_798_656);
    const g = countBackboneParams(await resolveBackboneConfig('vit-g14'));
    expect(g / 1e9).toBeCloseTo(1.011, 3);
    const bigG = countBackboneParams(await resolveBackboneConfig('vit-bigg14'));
    expect(bigG / 1e9).toBeCloseTo(1.843, 3);
    const e = countBackboneParams(await resolveBackboneConfig('vit-e14'));
    expect(e).toBeGreaterThan(3.8e9);
    expect(e).toBeLessThan(3.9e9);
  });

  // [width, depth, heads, mlp, patch, image size, GELU, mean[0]] from open_clip's model configs,
  // transformers' configs on the hub, and timm's model definitions.
  const towers: Record<string, [number, number, number, number, number, number, string, number]> = {
    'clip-b16': [768, 12, 12, 3072, 16, 224, 'quick', 0.48145466],
    'clip-l14': [1024, 24, 16, 4096, 14, 224, 'quick', 0.48145466],
    'clip-h14': [1280, 32, 16, 5120, 14, 224, 'exact', 0.48145466],
    'clip-bigg14': [1664, 48, 16, 8192, 14, 224, 'exact', 0.48145466],
    'dinov2-s14': [384, 12, 6, 1536, 14, 224, 'exact', 0.485],
    'dinov2-b14': [768, 12, 12, 3072, 14, 224, 'exact', 0.485],
    'dinov2-l14': [1024, 24, 16, 4096, 14, 224, 'exact', 0.485],
    'siglip-b16': [768, 12, 12, 3072, 16, 224, 'tanh', 0.5],
    'siglip-so400m14': [1152, 27, 16, 4304, 14, 384, 'tanh', 0.5],
  };
  it('ship CLIP, DINOv2 and SigLIP towers with their published shapes and preprocessing', async () => {
    expect([...BACKBONE_PRESETS].slice(8)).toEqual(Object.keys(towers));
    for (const [name, [w, d, h, m, p, s, gelu, mean0]] of Object.entries(towers)) {
      const c = await resolveBackboneConfig(name);
      expect([c.width, c.depth, c.heads, c.mlpDim, c.patchSize, c.imageSize, c.gelu, c.mean[0]], name).toEqual([w, d, h, m, p, s, gelu, mean0]);
      const family = name.split('-')[0];
      expect(c.lnPre === true && c.patchBias === false, name).toBe(family === 'clip');
      expect(c.layerScale === true, name).toBe(family === 'dinov2');
      expect(c.classToken, name).toBe(family !== 'siglip');
    }
  });

  it('count tower parameters as open_clip\'s model profile does, less the parts it adds', async () => {
    // open_clip's docs/model_profile.csv, image_mparams: the tower with its projection (CLIP) or
    // its attention-pool head (SigLIP, timm's AttentionPoolLatent with an MLP of the tower's width).
    const mapHead = (d: number, m: number) => d + (d * d + d) + (2 * d * d + 2 * d) + (d * d + d) + 2 * d + (d * m + m) + (m * d + d);
    const profile: [string, number, (w: number, m: number) => number, number?][] = [
      ['clip-b16', 86.19, (w) => w * 512], ['clip-l14', 303.97, (w) => w * 768], ['clip-h14', 632.08, (w) => w * 1024],
      ['clip-bigg14', 1844.91, (w) => w * 1280], ['siglip-b16', 92.88, mapHead], ['siglip-so400m14', 427.68, mapHead, 224],
    ];
    for (const [name, mparams, extra, size] of profile) {
      const c = { ...(await resolveBackboneConfig(name)), ...(size ? { imageSize: size } : {}) };
      expect((countBackboneParams(c) + extra(c.width, c.mlpDim)) / 1e6, name).toBeCloseTo(mparams, 2);
    }
    // OpenAI's ViT-B/16 image tower without its projection, exactly.
    expect(countBackboneParams(await resolveBackboneConfig('clip-b16'))).toBe(85_799_424);
  });

  it('count FLOPs as 2 × the multiply-adds timm and fvcore quote', async () => {
    // ViT-B/16: 17.56 G multiply-adds; ViT-L/16: 61.6 G.
    expect(flopsPerFrame(await resolveBackboneConfig('vit-b16')) / 2e9).toBeCloseTo(17.56, 1);
    expect(flopsPerFrame(await resolveBackboneConfig('vit-l16')) / 2e9).toBeCloseTo(61.55, 1);
  });
});

describe('config files', () => {
  const write = async (content: string): Promise<string> => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-cfg-'));
    const file = path.join(dir, 'my-vit.json');
    await fs.writeFile(file, content);
    return file;
  };
  it('loads a file and names it after the file', async () => {
    const { name: _unused, ...rest } = smallConfig();
    const file = await write(JSON.stringify(rest));
    const c = await resolveBackboneConfig(file);
    expect(c.name).toBe('my-vit');
    expect(c.width).toBe(32);
  });
  it.each([
    ['{', /my-vit\.json: not a valid backbone config: invalid JSON/],
    [JSON.stringify({ ...smallConfig(), imageSize: 6 }), /my-vit\.json: .*"imageSize" 6 is smaller than "patchSize" 8/],
    [JSON.stringify({ ...smallConfig(), heads: 5 }), /"width" 32 is not a multiple of "heads" 5/],
    [JSON.stringify({ ...smallConfig(), gelu: 'relu' }), /"gelu" must be one of "exact", "tanh", "quick", got "relu"/],
    [JSON.stringify({ ...smallConfig(), registers: -1 }), /"registers" must be a non-negative integer, got -1/],
    [JSON.stringify({ ...smallConfig(), lnPre: 'yes' }), /"lnPre" must be true or false, got "yes"/],
    [JSON.stringify({ ...smallConfig(), interpolation: 'area' }), /"interpolation" must be one of "bicubic", "bilinear", "lanczos", "nearest", got "area"/],
    [JSON.stringify({ ...smallConfig(), widht: 3 }), /unknown key "widht"/],
    [JSON.stringify({ ...smallConfig(), std: [1, 0, 1] }), /"std" must be 3 positive numbers/],
    [JSON.stringify({ ...smallConfig(), depth: undefined }), /"depth" must be a positive integer, got undefined/],
  ])('refuses %s in one line naming the file', async (content, pattern) => {
    const file = await write(content);
    const err = await resolveBackboneConfig(file).catch((e: Error) => e);
    expect((err as Error).message).toMatch(pattern);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).not.toContain('\n');
  });
  it('says what the presets are when a name is neither', async () => {
    await expect(resolveBackboneConfig('vit-q99')).rejects.toThrow(/vit-q99: no such backbone config file, folder or preset \(presets: vit-ti16, /);
  });
});

describe('chunk sizes', () => {
  it('grow with the budget and are 0 when the weights alone do not fit', async () => {
    const b = await resolveBackboneConfig('vit-b16');
    const small = chunkForBudget(b, 1 * 2 ** 30);
    const large = chunkForBudget(b, 2 * 2 ** 30);
    expect(small).toBeGreaterThan(0);
    expect(large).toBeGreaterThan(small);
    expect(chunkForBudget(b, 200 * 2 ** 20)).toBe(0);
    expect(() => resolveChunk(b, undefined, 200 * 2 ** 20)).toThrow(/vit-b16 needs about .* more than the memory budget of 200 MiB/);
    expect(resolveChunk(b, 3, 200 * 2 ** 20)).toBe(3);
    const e = await resolveBackboneConfig('vit-e14');
    expect(chunkForBudget(e, 8 * 2 ** 30)).toBe(0);
    expect(chunkForBudget(e, 24 * 2 ** 30)).toBeGreaterThan(0);
  });
});

describe('--pool and --layers', () => {
  const c = smallConfig(); // 4×4 grid, class token: 17 tokens
  it('parse pool specs and count tokens', () => {
    expect(pooledTokens(parsePool('none', c), c)).toBe(17);
    expect(pooledTokens(parsePool('cls', c), c)).toBe(1);
    expect(pooledTokens(parsePool('mean', c), c)).toBe(1);
    expect(pooledTokens(parsePool('grid:2', c), c)).toBe(5);
    expect(pooledTokens(parsePool('GRID:4', c), c)).toBe(17);
    expect(() => parsePool('grid:5', c)).toThrow(/grid to be from 1 to 4/);
    expect(() => parsePool('max', c)).toThrow(/Expected `--pool` to be one of/);
  });
  it('build pooling rows that each sum to one', () => {
    for (const spec of ['cls', 'mean', 'grid:2', 'grid:3']) {
      const w = poolingMatrix(parsePool(spec, c), c);
      const rows = w.length / 17;
      for (let r = 0; r < rows; r++) {
        const sum = w.subarray(r * 17, (r + 1) * 17).reduce((a, v) => a + v, 0);
        expect(sum, `${spec} row ${r}`).toBeCloseTo(1, 6);
      }
    }
    // mean excludes the class token
    expect(poolingMatrix(parsePool('mean', c), c)[0]).toBe(0);
  });
  it('keep registers in `none` only, after the class token', () => {
    const r = smallConfig({ registers: 3 }); // class token, 3 registers, 16 patches: 20 tokens
    expect(pooledTokens(parsePool('none', r), r)).toBe(20);
    for (const spec of ['cls', 'mean', 'grid:2']) {
      const w = poolingMatrix(parsePool(spec, r), r);
      for (let row = 0; row < w.length / 20; row++) {
        expect([...w.subarray(row * 20 + 1, row * 20 + 4)], `${spec} row ${row}: registers`).toEqual([0, 0, 0]);
        expect(w.subarray(row * 20, (row + 1) * 20).reduce((a, v) => a + v, 0)).toBeCloseTo(1, 6);
      }
    }
    expect(poolingMatrix(parsePool('cls', r), r)[0]).toBe(1);
    // grid:2's first cell: patches (0,0), (0,1), (1,0), (1,1) at tokens 4, 5, 8, 9.
    const grid = poolingMatrix(parsePool('grid:2', r), r).subarray(20, 40);
    expect([4, 5, 8, 9].map((i) => grid[i])).toEqual([0.25, 0.25, 0.25, 0.25]);
  });
  it('parse layer specs (1-based) into 0-based blocks', () => {
    expect(parseLayers('all', 4)).toEqual([0, 1, 2, 3]);
    expect(parseLayers('every:2', 5)).toEqual([1, 3]);
    expect(parseLayers('3, 1,3', 4)).toEqual([0, 2]);
    expect(() => parseLayers('0', 4)).toThrow(/block 0 is out of range/);
    expect(() => parseLayers('5', 4)).toThrow(/block 5 is out of range/);
    expect(() => parseLayers('every:0', 4)).toThrow(/K must be from 1 to 4/);
    expect(() => parseLayers('last', 4)).toThrow(/unrecognised form/);
  });
});
