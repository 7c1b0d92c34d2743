// Backbone configs: the DESIGN.md JSON format, the presets in models/, and validation.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LosaError } from '../errors.js';

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
  gelu: 'exact' | 'tanh';
  mean: [number, number, number];
  std: [number, number, number];
}

/** The preset names, smallest first (files models/<name>.json). */
export const BACKBONE_PRESETS = [
  'vit-ti16', 'vit-s16', 'vit-b16', 'vit-l16', 'vit-h14', 'vit-g14', 'vit-bigg14', 'vit-e14',
] as const;

/** The folder that holds the preset JSON files (models/ at the package root). */
export function presetsDir(): string {
  // This file is src/backbone/config.ts or dist/backbone/config.js: the package root is two up.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');
}

const KNOWN_KEYS = new Set([
  'name', 'description', 'imageSize', 'patchSize', 'width', 'depth', 'heads', 'mlpDim',
  'classToken', 'layerNormEps', 'gelu', 'mean', 'std',
]);

/** Check a parsed JSON value against the config format; `where` (a file) names the culprit. */
export function validateBackboneConfig(raw: unknown, where: string): BackboneConfig {
  const fail = (problem: string): never => {
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
  const imageSize = posInt('imageSize');
  const patchSize = posInt('patchSize');
  const width = posInt('width');
  const depth = posInt('depth');
  const heads = posInt('heads');
  const mlpDim = posInt('mlpDim');
  if (imageSize % patchSize !== 0) fail(`"imageSize" ${imageSize} is not a multiple of "patchSize" ${patchSize}`);
  if (width % heads !== 0) fail(`"width" ${width} is not a multiple of "heads" ${heads}`);
  if (typeof o.classToken !== 'boolean') fail(`"classToken" must be true or false, got ${JSON.stringify(o.classToken)}`);
  const eps = o.layerNormEps;
  if (typeof eps !== 'number' || !(eps > 0) || eps >= 1) fail(`"layerNormEps" must be a number in (0, 1), got ${JSON.stringify(eps)}`);
  if (o.gelu !== 'exact' && o.gelu !== 'tanh') fail(`"gelu" must be "exact" or "tanh", got ${JSON.stringify(o.gelu)}`);
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) fail(`"name" must be a non-empty string`);
  if (o.description !== undefined && typeof o.description !== 'string') fail(`"description" must be a string`);
  const config: BackboneConfig = {
    imageSize, patchSize, width, depth, heads, mlpDim,
    classToken: o.classToken as boolean,
    layerNormEps: eps as number,
    gelu: o.gelu as 'exact' | 'tanh',
    mean: triple('mean', false),
    std: triple('std', true),
  };
  if (typeof o.name === 'string') config.name = o.name;
  return config;
}

/** Load a config from a preset name ("vit-ti16") or a JSON file path. */
export async function resolveBackboneConfig(nameOrFile: string): Promise<BackboneConfig> {
  const isPreset = (BACKBONE_PRESETS as readonly string[]).includes(nameOrFile);
  const file = isPreset ? path.join(presetsDir(), `${nameOrFile}.json`) : nameOrFile;
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !isPreset) {
      throw new LosaError(`${file}: no such backbone config file, and not a preset (presets: ${BACKBONE_PRESETS.join(', ')})`);
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
  if (config.name === undefined) config.name = isPreset ? nameOrFile : path.basename(file).replace(/\.json$/i, '');
  return config;
}

/** A config as canonical JSON (fixed key order), for digests and run files. */
export function canonicalConfigJson(config: BackboneConfig): string {
  const { imageSize, patchSize, width, depth, heads, mlpDim, classToken, layerNormEps, gelu, mean, std } = config;
  return JSON.stringify({ imageSize, patchSize, width, depth, heads, mlpDim, classToken, layerNormEps, gelu, mean, std });
}

/** Patches per side of the input grid. */
export function gridSize(config: BackboneConfig): number {
  return config.imageSize / config.patchSize;
}

/** Tokens per frame entering the blocks: patches, plus the class token when there is one. */
export function tokenCount(config: BackboneConfig): number {
  return gridSize(config) ** 2 + (config.classToken ? 1 : 0);
}

/** The one-line "description" of a preset or config file, when it has one (for `losa info`). */
export async function backboneDescription(nameOrFile: string): Promise<string | undefined> {
  const isPreset = (BACKBONE_PRESETS as readonly string[]).includes(nameOrFile);
  const file = isPreset ? path.join(presetsDir(), `${nameOrFile}.json`) : nameOrFile;
  try {
    const raw = JSON.parse(await fs.readFile(file, 'utf8')) as { description?: unknown };
    return typeof raw.description === 'string' ? raw.description : undefined;
  } catch {
    return undefined;
  }
}
