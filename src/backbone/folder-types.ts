// What a model folder's layout parsers produce, and the small JSON helpers they share.
import { promises as fs } from 'node:fs';
import { LosaError } from '../errors.js';
import type { BackboneConfig, Interpolation } from './config.js';

export type Layout = 'transformers' | 'timm' | 'open_clip';
export type Family = 'vit' | 'clip' | 'dinov2' | 'siglip';

/** The preprocessing a folder describes, and where it came from. */
export interface Preprocessing {
  imageSize: number;
  mean: [number, number, number];
  std: [number, number, number];
  interpolation: Interpolation;
  /** The file these came from, or a sentence saying they are the library's defaults. */
  source: string;
  /** What the folder asks for that losa does differently (one sentence each). */
  notes: string[];
}

/** One layout of a folder, read: the tower it describes and where its weights are. */
export interface FolderModel {
  layout: Layout;
  family: Family;
  /** The library's name for it: a transformers model_type, a timm architecture, an open_clip tower. */
  arch: string;
  configFile: string;
  config: BackboneConfig;
  /** A .safetensors file or a shard index. */
  weights: string;
  preprocessing: Preprocessing;
}

/** What a layout's config file says, before its weights are looked for. */
export type FolderTower = Omit<FolderModel, 'weights'>;

export type Json = Record<string, unknown>;

/** Whether a path is a file. */
export async function isFile(file: string): Promise<boolean> {
  return fs.stat(file).then((s) => s.isFile(), () => false);
}

/** A JSON object file, or undefined when there is no such file. */
export async function readJsonIfAny(file: string): Promise<Json | undefined> {
  return (await isFile(file)) ? readJson(file) : undefined;
}

export async function readJson(file: string): Promise<Json> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LosaError(`${file}: ${code ? `cannot read (${code})` : `not valid JSON (${(error as Error).message})`}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new LosaError(`${file}: expected a JSON object`);
  return raw as Json;
}

/** Typed reads of JSON fields, each failing in one line that names the file and the key. */
export class Fields {
  constructor(readonly file: string, readonly o: Json, readonly where = '') {}

  fail(problem: string): never {
    throw new LosaError(`${this.file}: ${problem}`);
  }

  private got(key: string): string {
    return `Expected \`${this.where}${key}\``;
  }

  num(key: string, fallback: number): number {
    const v = this.o[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`${this.got(key)} to be a number, got ${JSON.stringify(v)}`);
    return v as number;
  }

  int(key: string, fallback: number): number {
    const v = this.num(key, fallback);
    if (!Number.isSafeInteger(v) || v < 0) this.fail(`${this.got(key)} to be a whole number, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.o[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(`${this.got(key)} to be true or false, got ${JSON.stringify(v)}`);
    return v as boolean;
  }

  str(key: string, fallback: string): string {
    const v = this.o[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string') this.fail(`${this.got(key)} to be a string, got ${JSON.stringify(v)}`);
    return v as string;
  }

  triple(key: string, fallback: readonly [number, number, number]): [number, number, number] {
    const v = this.o[key];
    if (v === undefined || v === null) return [...fallback];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      this.fail(`${this.got(key)} to be 3 numbers, got ${JSON.stringify(v)}`);
    }
    return [...(v as number[])] as [number, number, number];
  }

  /** A nested object, or {} when absent. */
  obj(key: string): Json {
    const v = this.o[key];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(`${this.got(key)} to be an object, got ${JSON.stringify(v)}`);
    return v as Json;
  }

  /** A square size: a number, [h, w] with h = w, or {height, width} / {shortest_edge}. */
  size(key: string, fallback: number): number {
    const v = this.o[key];
    if (v === undefined || v === null) return fallback;
    const square = (h: unknown, w: unknown): number | undefined => (typeof h === 'number' && h === w && Number.isSafeInteger(h) && h > 0 ? h : undefined);
    let s: number | undefined;
    if (typeof v === 'number') s = square(v, v);
    else if (Array.isArray(v)) s = v.length === 2 ? square(v[0], v[1]) : v.length === 3 ? square(v[1], v[2]) : undefined;
    else if (typeof v === 'object') {
      const o = v as Json;
      s = o.shortest_edge !== undefined ? square(o.shortest_edge, o.shortest_edge) : square(o.height, o.width);
    }
    if (s === undefined) this.fail(`${this.got(key)} to be a square size (losa runs square inputs), got ${JSON.stringify(v)}`);
    return s!;
  }
}

export const OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const OPENAI_STD = [0.26862954, 0.26130258, 0.27577711] as const;
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
export const HALF = [0.5, 0.5, 0.5] as const;

/** timm / open_clip interpolation names → the resize losa's ffmpeg step does. */
export function interpolationFrom(name: string, notes: string[]): Interpolation {
  if (name === 'bicubic' || name === 'bilinear' || name === 'lanczos' || name === 'nearest') return name;
  notes.push(`resize interpolation "${name}" is not one ffmpeg has; losa resizes bicubically`);
  return 'bicubic';
}
