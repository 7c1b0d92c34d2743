// Backbone configs: the JSON format, the presets in models/, and validation.
//
// The fields beyond the plain ViT describe the towers of CLIP, DINOv2 and SigLIP; each is
// optional and, when absent, takes the plain ViT's value, so that configs written before them
// keep their meaning (and their digest).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LosaError } from '../errors.js';

/** x·Φ(x) (`exact`), its tanh approximation (`tanh`), or CLIP's x·σ(1.702x) (`quick`). */
export type GeluKind = 'exact' | 'tanh' | 'quick';
export const GELU_KINDS: readonly GeluKind[] = ['exact', 'tanh', 'quick'];

/** How frames are resized to the input size (ffmpeg's scaler flags of the same names). */
export type Interpolation = 'bicubic' | 'bilinear' | 'lanczos' | 'nearest';
export const INTERPOLATIONS: readonly Interpolation[] = ['bicubic', 'bilinear', 'lanczos', 'nearest'];

export interface BackboneConfig {
  name?: string;
  imageSize: number;
  patchSize: number;
  width: number;
  depth: number;
  heads: number;
  mlpDim: number;
  classToken: boolean;
  layerNormEps: number;
  gelu: GeluKind;
  mean: [number, number, number];
  std: [number, number, number];
  /** A LayerNorm on the embeddings before the first block (CLIP's `ln_pre`). Default false. */
  lnPre?: boolean;
  /** Whether the patch embedding has a bias (CLIP's has none). Default true. */
  patchBias?: boolean;
  /** LayerScale: a learned per-channel scale on both residual branches (DINOv2). Default false. */
  layerScale?: boolean;
  /** Register tokens, placed after the class token, with no position embedding (DINOv2 with registers). Default 0. */
  registers?: number;
  /** Resize interpolation of the frames. Default `bicubic`. */
  interpolation?: Interpolation;
}

/** The value each optional field takes when it is absent: the plain ViT's. */
export const CONFIG_DEFAULTS = {
  lnPre: false, patchBias: true, layerScale: false, registers: 0, interpolation: 'bicubic',
} as const satisfies Required<Pick<BackboneConfig, 'lnPre' | 'patchBias' | 'layerScale' | 'registers' | 'interpolation'>>;

export type OptionalField = keyof typeof CONFIG_DEFAULTS;

/** A config with every optional field filled in. */
export type FullConfig = BackboneConfig & Required<Pick<BackboneConfig, OptionalField>>;

export function withDefaults(config: BackboneConfig): FullConfig {
  return {
    ...config,
    lnPre: config.lnPre ?? CONFIG_DEFAULTS.lnPre,
    patchBias: config.patchBias ?? CONFIG_DEFAULTS.patchBias,
    layerScale: config.layerScale ?? CONFIG_DEFAULTS.layerScale,
    registers: config.registers ?? CONFIG_DEFAULTS.registers,
    interpolation: config.interpolation ?? CONFIG_DEFAULTS.interpolation,
  };
}

/** The preset names (files models/<name>.json): plain ViTs smallest first, then CLIP, DINOv2, SigLIP towers. */
export const BACKBONE_PRESETS = [
  'vit-ti16', 'vit-s16', 'vit-b16', 'vit-l16', 'vit-h14', 'vit-g14', 'vit-bigg14', 'vit-e14',
  'clip-b16', 'clip-l14', 'clip-h14', 'clip-bigg14',
  'dinov2-s14', 'dinov2-b14', 'dinov2-l14',
  'siglip-b16', 'siglip-so400m14',
] as const;

/** The folder that holds the preset JSON files (models/ at the package root). */
export function presetsDir(): string {
  // This file is src/backbone/config.ts or dist/backbone/config.js: the package root is two up.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');
}

export function isPreset(name: string): boolean {
  return (BACKBONE_PRESETS as readonly string[]).includes(name);
}

const REQUIRED_KEYS = ['imageSize', 'patchSize', 'width', 'depth', 'heads', 'mlpDim', 'classToken', 'layerNormEps', 'gelu', 'mean', 'std'];
const KNOWN_KEYS = new Set(['name', 'description', ...REQUIRED_KEYS, ...Object.keys(CONFIG_DEFAULTS)]);

type Fail = (problem: string) => never;

/** The optional fields of a parsed config object, checked; absent ones stay absent. */
function optionalFields(o: Record<string, unknown>, fail: Fail): Partial<BackboneConfig> {
  const out: Partial<BackboneConfig> = {};
  for (const key of ['lnPre', 'patchBias', 'layerScale'] as const) {
    if (o[key] === undefined) continue;
    if (typeof o[key] !== 'boolean') fail(`"${key}" must be true or false, got ${JSON.stringify(o[key])}`);
    out[key] = o[key] as boolean;
  }
  if (o.registers !== undefined) {
    const r = o.registers;
    if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < 0) fail(`"registers" must be a non-negative integer, got ${JSON.stringify(r)}`);
    out.registers = r as number;
  }
  if (o.interpolation !== undefined) {
    if (!INTERPOLATIONS.includes(o.interpolation as Interpolation)) {
      fail(`"interpolation" must be one of ${INTERPOLATIONS.map((i) => `"${i}"`).join(', ')}, got ${JSON.stringify(o.interpolation)}`);
    }
    out.interpolation = o.interpolation as Interpolation;
  }
  return out;
}

/** Check a parsed JSON value against the config format; `where` (a file) names the culprit. */
export function validateBackboneConfig(raw: unknown, where: string): BackboneConfig {
  const fail: Fail = (problem) => {
    throw new LosaError(`${where}: not a valid backbone config: ${problem}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('expected a JSON object');
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_KEYS.has(key)) fail(`unknown key "${key}" (known: ${[...KNOWN_KEYS].join(', ')})`);
  }
  const posInt = (key: string): number => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail(`"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const triple = (key: string, positive: boolean): [number, number, number] => {
    const v = o[key];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
      fail(`"${key}" must be 3 ${positive ? 'positive ' : ''}numbers, got ${JSON.stringify(v)}`);
    }
    return [...(v as number[])] as [number, number, number];
  };
  const [imageSize, patchSize, width, depth, heads, mlpDim] = ['imageSize', 'patchSize', 'width', 'depth', 'heads', 'mlpDim'].map(posInt) as [number, number, number, number, number, number];
  // Like PyTorch's strided convolution, the patch grid is floor(imageSize / patchSize): SigLIP
  // So400m/14 at 384 px sees 27×27 patches and drops the last 6 pixels of each side.
  if (imageSize < patchSize) fail(`"imageSize" ${imageSize} is smaller than "patchSize" ${patchSize}`);
  if (width % heads !== 0) fail(`"width" ${width} is not a multiple of "heads" ${heads}`);
  if (typeof o.classToken !== 'boolean') fail(`"classToken" must be true or false, got ${JSON.stringify(o.classToken)}`);
  const eps = o.layerNormEps;
  if (typeof eps !== 'number' || !(eps > 0) || eps >= 1) fail(`"layerNormEps" must be a number in (0, 1), got ${JSON.stringify(eps)}`);
  if (!GELU_KINDS.includes(o.gelu as GeluKind)) fail(`"gelu" must be one of ${GELU_KINDS.map((g) => `"${g}"`).join(', ')}, got ${JSON.stringify(o.gelu)}`);
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) fail(`"name" must be a non-empty string`);
  if (o.description !== undefined && typeof o.description !== 'string') fail(`"description" must be a string`);
  const config: BackboneConfig = {
    imageSize, patchSize, width, depth, heads, mlpDim,
    classToken: o.classToken as boolean,
    layerNormEps: eps as number,
    gelu: o.gelu as GeluKind,
    mean: triple('mean', false),
    std: triple('std', true),
    ...optionalFields(o, fail),
  };
  if (typeof o.name === 'string') config.name = o.name;
  return config;
}

/** Read and check a config JSON file. */
export async function readConfigFile(file: string, presetName?: string): Promise<BackboneConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && presetName === undefined) {
      throw new LosaError(`${file}: no such backbone config file, folder or preset (presets: ${BACKBONE_PRESETS.join(', ')})`);
    }
    throw new LosaError(`${file}: cannot read backbone config (${code ?? String(error)})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new LosaError(`${file}: not a valid backbone config: invalid JSON (${(error as Error).message})`);
  }
  const config = validateBackboneConfig(raw, file);
  if (config.name === undefined) config.name = presetName ?? path.basename(file).replace(/\.json$/i, '');
  return config;
}

/** The JSON file of a preset name, or the name itself when it is not a preset. */
export function presetFile(nameOrFile: string): string {
  return isPreset(nameOrFile) ? path.join(presetsDir(), `${nameOrFile}.json`) : nameOrFile;
}

/**
 * A config as canonical JSON (fixed key order), for digests and run files. Optional fields
 * appear only when they differ from their defaults, so a plain ViT's JSON (and digest) is the
 * same as before they existed, while any field that changes the features changes the JSON.
 */
export function canonicalConfigJson(config: BackboneConfig): string {
  const { imageSize, patchSize, width, depth, heads, mlpDim, classToken, layerNormEps, gelu, mean, std } = config;
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(CONFIG_DEFAULTS)) {
    const given = config[key as OptionalField];
    if (given !== undefined && given !== value) extra[key] = given;
  }
  return JSON.stringify({ imageSize, patchSize, width, depth, heads, mlpDim, classToken, layerNormEps, gelu, mean, std, ...extra });
}

/** Patches per side of the input grid (pixels past the last whole patch are not seen). */
export function gridSize(config: BackboneConfig): number {
  return Math.floor(config.imageSize / config.patchSize);
}

/** Tokens before the patches: the class token (when there is one), then the registers. */
export function prefixTokens(config: BackboneConfig): number {
  return (config.classToken ? 1 : 0) + (config.registers ?? 0);
}

/** Tokens per frame entering the blocks: class token, registers, patches. */
export function tokenCount(config: BackboneConfig): number {
  return gridSize(config) ** 2 + prefixTokens(config);
}

/** Rows of the position embedding: the class token's (when there is one) and the patches'. */
export function positionCount(config: BackboneConfig): number {
  return gridSize(config) ** 2 + (config.classToken ? 1 : 0);
}

/** The one-line "description" of a preset or config file, when it has one (for `losa info`). */
export async function backboneDescription(nameOrFile: string): Promise<string | undefined> {
  try {
    const raw = JSON.parse(await fs.readFile(presetFile(nameOrFile), 'utf8')) as { description?: unknown };
    return typeof raw.description === 'string' ? raw.description : undefined;
  } catch {
    return undefined;
  }
}
