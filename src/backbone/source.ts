// What `--backbone` names: a preset, a config JSON file, or a model folder as downloaded from the
// Hugging Face hub (transformers, timm or open_clip layout), whose config, preprocessing and
// weights travel together.
import { promises as fs } from 'node:fs';
import type { BackboneConfig } from './config.js';
import { isPreset, presetFile, readConfigFile, validateBackboneConfig } from './config.js';
import { resolveFolder, type ResolvedFolder } from './folder.js';

export interface ResolvedBackbone {
  config: BackboneConfig;
  /** A model folder's weights (a .safetensors file or a shard index); absent for presets and config files. */
  weights?: string;
  /** The folder's layouts, when the backbone is a model folder. */
  folder?: ResolvedFolder;
}

/** Resolve a preset name, a config JSON file or a model folder. */
export async function resolveBackbone(nameOrPath: string): Promise<ResolvedBackbone> {
  if (isPreset(nameOrPath)) return { config: await readConfigFile(presetFile(nameOrPath), nameOrPath) };
  const isDir = await fs.stat(nameOrPath).then((s) => s.isDirectory(), () => false);
  if (!isDir) return { config: await readConfigFile(nameOrPath) };
  const folder = await resolveFolder(nameOrPath);
  const config = validateBackboneConfig(folder.model.config, folder.model.configFile);
  return { config, weights: folder.model.weights, folder };
}

/** The config alone of a preset, config file or model folder. */
export async function resolveBackboneConfig(nameOrPath: string): Promise<BackboneConfig> {
  return (await resolveBackbone(nameOrPath)).config;
}
