// The tensors of a checkpoint, from one safetensors file or from the shards a
// `*.safetensors.index.json` lists (Hugging Face's sharded layout: model-00001-of-00002.safetensors …
// with {"metadata": …, "weight_map": {tensor: shard file}}). Every shard is found and its header
// read before any tensor data is, so a missing shard fails in one line before anything loads.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LosaError } from '../errors.js';
import { SafetensorsFile, type TensorInfo } from '../safetensors.js';

export interface TensorSource {
  /** The file given: a .safetensors file or an index. */
  path: string;
  /** The safetensors files read, in order. */
  files: string[];
  names(): string[];
  info(name: string): TensorInfo;
  readRaw(name: string): Promise<Uint8Array>;
  close(): Promise<void>;
}

export function isShardIndex(file: string): boolean {
  return /\.safetensors\.index\.json$/i.test(file);
}

/** The shard of each tensor, from an index file. */
async function readIndex(file: string): Promise<Map<string, string>> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LosaError(`${file}: ${code === 'ENOENT' ? 'no such file' : `not a valid shard index (${code ?? (error as Error).message})`}`);
  }
  const map = (raw as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || !Object.values(map).every((v) => typeof v === 'string')) {
    throw new LosaError(`${file}: not a valid shard index: expected {"weight_map": {tensor: file, …}}`);
  }
  return new Map(Object.entries(map as Record<string, string>));
}

async function openShards(index: string): Promise<TensorSource> {
  const weightMap = await readIndex(index);
  const dir = path.dirname(index);
  const shardNames = [...new Set(weightMap.values())].sort();
  for (const shard of shardNames) {
    const file = path.join(dir, shard);
    const there = await fs.stat(file).then((s) => s.isFile(), () => false);
    if (!there) {
      const count = [...weightMap.values()].filter((s) => s === shard).length;
      throw new LosaError(`${file}: shard missing (${path.basename(index)} lists ${count} tensors in it; download it again)`);
    }
  }
  const opened: SafetensorsFile[] = [];
  try {
    for (const shard of shardNames) opened.push(await SafetensorsFile.open(path.join(dir, shard)));
  } catch (error) {
    await Promise.all(opened.map((f) => f.close()));
    throw error;
  }
  const owner = new Map<string, SafetensorsFile>();
  for (const [name, shard] of weightMap) {
    const file = opened[shardNames.indexOf(shard)]!;
    if (!file.tensors.has(name)) {
      await Promise.all(opened.map((f) => f.close()));
      throw new LosaError(`${file.path}: no tensor "${name}", which ${path.basename(index)} places in it`);
    }
    owner.set(name, file);
  }
  const of = (name: string): SafetensorsFile => {
    const file = owner.get(name);
    if (!file) throw new LosaError(`${index}: no tensor named "${name}"`);
    return file;
  };
  return {
    path: index,
    files: opened.map((f) => f.path),
    names: () => [...owner.keys()],
    info: (name) => of(name).info(name),
    readRaw: (name) => of(name).readRaw(name),
    close: async () => { await Promise.all(opened.map((f) => f.close())); },
  };
}

/** Open a .safetensors file or a shard index. */
export async function openTensorSource(file: string): Promise<TensorSource> {
  if (isShardIndex(file)) return openShards(file);
  const st = await SafetensorsFile.open(file);
  return {
    path: file,
    files: [file],
    names: () => st.names(),
    info: (name) => st.info(name),
    readRaw: (name) => st.readRaw(name),
    close: () => st.close(),
  };
}
