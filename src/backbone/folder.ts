// A model folder as downloaded from the Hugging Face hub, recognised from the files in it:
//   transformers  config.json with model_type (+ preprocessor_config.json), model.safetensors or shards
//   timm          config.json with architecture, model.safetensors
//   open_clip     open_clip_config.json, open_clip_model.safetensors
// Many hub folders hold two layouts of the same weights (timm with open_clip, transformers with
// open_clip): the first that losa can read, in the order above, is used, and the folder's note says
// which, and whether the other describes a different tower.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LosaError, errorMessage } from '../errors.js';
import { canonicalConfigJson } from './config.js';
import { isFile, readJsonIfAny, type FolderModel, type FolderTower, type Json, type Layout } from './folder-types.js';
import { readOpenClipFolder } from './layout-openclip.js';
import { readTimmFolder } from './layout-timm.js';
import { readTransformersFolder } from './layout-transformers.js';

export interface ResolvedFolder {
  dir: string;
  model: FolderModel;
  /** The other layouts found, each with what became of it. */
  others: { layout: Layout; status: string }[];
  /** One line: the layout used, and the others. */
  note: string;
}

/** Weights file names of each layout, in the order they are looked for. */
const WEIGHT_FILES: Record<Layout, string[]> = {
  transformers: ['model.safetensors', 'model.safetensors.index.json'],
  timm: ['model.safetensors', 'model.safetensors.index.json'],
  open_clip: ['open_clip_model.safetensors'],
};
const PICKLE_FILES: Record<Layout, string> = { transformers: 'pytorch_model.bin', timm: 'pytorch_model.bin', open_clip: 'open_clip_pytorch_model.bin' };

interface Attempt {
  layout: Layout;
  configFile: string;
  read: () => Promise<FolderTower> | FolderTower;
}

/** The layouts a folder's config files describe, in order of preference. */
async function attempts(dir: string): Promise<{ list: Attempt[]; problems: string[] }> {
  const list: Attempt[] = [];
  const problems: string[] = [];
  const configFile = path.join(dir, 'config.json');
  const cfg: Json | undefined = await readJsonIfAny(configFile);
  if (cfg && typeof cfg.model_type === 'string') {
    list.push({ layout: 'transformers', configFile, read: () => readTransformersFolder(dir, configFile, cfg) });
  } else if (cfg && typeof cfg.architecture === 'string') {
    list.push({ layout: 'timm', configFile, read: () => readTimmFolder(dir, configFile, cfg) });
  } else if (cfg) {
    problems.push(`${configFile} has neither model_type (transformers) nor architecture (timm)`);
  }
  const openClipFile = path.join(dir, 'open_clip_config.json');
  const oc = await readJsonIfAny(openClipFile);
  if (oc) list.push({ layout: 'open_clip', configFile: openClipFile, read: () => readOpenClipFolder(dir, openClipFile, oc) });
  return { list, problems };
}

/** The weights file of a layout, or why there is none. */
async function weightsOf(dir: string, layout: Layout): Promise<string> {
  for (const name of WEIGHT_FILES[layout]) if (await isFile(path.join(dir, name))) return path.join(dir, name);
  const pickle = (await isFile(path.join(dir, PICKLE_FILES[layout]))) ? ` (only ${PICKLE_FILES[layout]}: losa reads safetensors)` : '';
  throw new LosaError(`no ${WEIGHT_FILES[layout].join(' or ')}${pickle}`);
}

async function listing(dir: string): Promise<string> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();
  return names.length ? names.slice(0, 8).join(', ') + (names.length > 8 ? `, … (${names.length} files)` : '') : 'nothing';
}

/** Recognise a model folder's layout(s) and read the one losa uses; one-line errors name the file. */
export async function resolveFolder(dir: string): Promise<ResolvedFolder> {
  const { list, problems } = await attempts(dir);
  if (list.length === 0) {
    throw new LosaError(`${dir}: not a model folder losa knows: looked for config.json (transformers: model_type; timm: architecture) and open_clip_config.json (open_clip)${problems.length ? `; ${problems.join('; ')}` : ''}; found ${await listing(dir)}`);
  }
  const read: { layout: Layout; model?: FolderModel; error?: unknown }[] = [];
  for (const a of list) {
    try {
      // The config first: an unsupported tower is the news, whatever the weights.
      const tower = await a.read();
      read.push({ layout: a.layout, model: { ...tower, weights: await weightsOf(dir, a.layout) } });
    } catch (error) {
      read.push({ layout: a.layout, error });
    }
  }
  const chosen = read.find((r) => r.model);
  if (!chosen) {
    if (read.length === 1 && errorMessage(read[0]!.error).startsWith(dir)) throw read[0]!.error;
    throw new LosaError(`${dir}: no layout losa can read: ${read.map((r) => `${r.layout}: ${errorMessage(r.error)}`).join('; ')}`);
  }
  const model = chosen.model!;
  const others = read.filter((r) => r !== chosen).map((r) => ({
    layout: r.layout,
    status: r.model
      ? canonicalConfigJson(r.model.config) === canonicalConfigJson(model.config) ? 'the same tower' : 'a different tower (its config differs)'
      : `unreadable: ${errorMessage(r.error)}`,
  }));
  const also = others.map((o) => `; also ${o.layout}: ${o.status}`).join('');
  const note = `${dir}: ${model.layout} layout, ${model.family} (${model.arch}), weights ${path.basename(model.weights)}${also}`;
  return { dir, model, others, note };
}

/** The weights path (file or shard index) of the layout a folder's tower is read from. */
export async function findFolderWeights(dir: string): Promise<string> {
  return (await resolveFolder(dir)).model.weights;
}
