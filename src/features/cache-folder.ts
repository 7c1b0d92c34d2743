// The feature cache's folder as a whole: what it holds, its size cap, and the eviction of the
// least recently used entries. Several processes may use one folder at once (a training run,
// `losa eval`, extraction workers on other machines sharing it), so nothing here assumes it is
// alone:
// - entries are written under a temporary name and renamed, so no reader sees half an entry;
// - "recently used" is an entry's modification time, which every hit refreshes, so the use
//   of every process counts;
// - eviction unlinks whole entries. A process that already opened one reads on (the data stays
//   until its last descriptor closes); one that had not gets ENOENT, which is a miss;
// - temporary files are left alone unless they are older than STALE_TEMP_MS (their writer was
//   killed), so an entry being written is never taken away.
// Entries are DIR/<2 hex>/<64 hex>.safetensors; nothing else in DIR is ever removed, so a cache
// pointed at a folder that holds other files cannot delete them.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { statMany } from '../data/dataset.js';
import { LosaError } from '../errors.js';
import { parseTempName, writeFileAtomic } from '../fsutil.js';

/**
 * The cap when neither `--cache-max` nor the folder says otherwise: twice what `--cache auto`
 * lets one run's features take (8 GiB), so an automatic cache fits with room for a second run.
 */
export const DEFAULT_CACHE_MAX = 16 * 2 ** 30;
/** A temporary file older than this was left by a killed writer and may be removed. */
export const STALE_TEMP_MS = 60 * 60 * 1000;
/** Eviction frees down to this fraction of the cap, so it runs once per tenth of the cap written, not once per entry. */
export const EVICT_TO = 0.9;
/** The folder's own settings (its cap), so that every command and process using it keeps the same one. */
export const SETTINGS_FILE = 'cache.json';

const ENTRY = /^[0-9a-f]{64}\.safetensors$/;
const SHARD = /^[0-9a-f]{2}$/;

export interface CacheFile {
  file: string;
  bytes: number;
  /** Last use (the modification time), ms since the epoch. */
  usedMs: number;
}

export interface CacheContents {
  entries: CacheFile[];
  /** Temporary files of writes in progress, or of writers that were killed. */
  temps: CacheFile[];
  /** Bytes of entries and temporary files. */
  bytes: number;
}

export interface CacheSettings {
  maxBytes?: number;
}

/** Every entry and temporary file of a cache folder (an absent folder is an empty cache). */
export async function scanCacheFolder(dir: string): Promise<CacheContents> {
  const files: string[] = [];
  const kinds: boolean[] = []; // true: an entry, false: a temporary file
  for (const shard of await readdirOrEmpty(dir)) {
    if (!SHARD.test(shard)) continue;
    for (const name of await readdirOrEmpty(path.join(dir, shard))) {
      const temp = parseTempName(name);
      if (!ENTRY.test(name) && !(temp && ENTRY.test(temp.target))) continue;
      files.push(path.join(dir, shard, name));
      kinds.push(temp === null);
    }
  }
  const stats = await statMany(files, (stat) => (stat.isFile() ? { bytes: stat.size, usedMs: stat.mtimeMs } : null));
  const out: CacheContents = { entries: [], temps: [], bytes: 0 };
  stats.forEach((stat, i) => {
    if (!stat) return; // gone meanwhile: another process evicted or renamed it
    (kinds[i] ? out.entries : out.temps).push({ file: files[i]!, ...stat });
    out.bytes += stat.bytes;
  });
  return out;
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new LosaError(`${dir}: cannot list the feature cache (${code ?? (error as Error).message})`);
  }
}

export interface Eviction {
  removed: number;
  freedBytes: number;
  /** Entries and bytes left (temporary files of live writers included in the bytes). */
  remaining: number;
  remainingBytes: number;
}

/**
 * Removes the least recently used entries until the folder holds at most `keepBytes`, and the
 * temporary files of killed writers (older than STALE_TEMP_MS at `nowMs`). Safe while other
 * processes use the folder (see the header).
 */
export async function evictCacheFolder(dir: string, keepBytes: number, nowMs: number): Promise<Eviction> {
  const { entries, temps, bytes } = await scanCacheFolder(dir);
  let total = bytes;
  let removed = 0;
  let gone = 0;
  let freedBytes = 0;
  /** Unlinks `f`: 'gone' when another process removed it first; 'kept' on any other failure (permissions). */
  const remove = async (f: CacheFile): Promise<'removed' | 'gone' | 'kept'> => {
    try {
      await fs.unlink(f.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return 'kept';
      total -= f.bytes;
      return 'gone';
    }
    total -= f.bytes;
    freedBytes += f.bytes;
    return 'removed';
  };
  for (const t of temps) if (t.usedMs < nowMs - STALE_TEMP_MS) await remove(t);
  entries.sort((a, b) => a.usedMs - b.usedMs);
  for (const e of entries) {
    if (total <= keepBytes) break;
    const outcome = await remove(e);
    if (outcome === 'removed') removed++;
    else if (outcome === 'gone') gone++;
  }
  return { removed, freedBytes, remaining: entries.length - removed - gone, remainingBytes: total };
}

/** The folder's settings; none when it has no settings file yet. */
export async function readCacheSettings(dir: string): Promise<CacheSettings> {
  const file = path.join(dir, SETTINGS_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new LosaError(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    const raw = JSON.parse(text) as CacheSettings;
    return Number.isSafeInteger(raw.maxBytes) && raw.maxBytes! > 0 ? { maxBytes: raw.maxBytes } : {};
  } catch {
    throw new LosaError(`${file}: not valid JSON (remove it, or set the cap again with --cache-max)`);
  }
}

export async function writeCacheSettings(dir: string, settings: CacheSettings): Promise<void> {
  await writeFileAtomic(path.join(dir, SETTINGS_FILE), JSON.stringify(settings) + '\n');
}
