// The feature cache. The backbone is frozen, so the features of one video, one sampled view and
// one backbone never change: compute them once, keep them on disk, reuse them in later epochs,
// in `eval`, and on other machines that share the folder. The key covers everything the
// features depend on, so a stale entry can never be read: the backbone digest (config, weights
// bytes, pooling, tapped layers), the video's content (its size and a hash of its first, middle
// and last 64 KiB: not its path, inode or modification time, which differ between machines
// mounting one data set and between copies of a file), the sampling settings and view, and the
// storage type. Entries are safetensors files holding `features` [V, T, L, P, D].
//
// The cache never ends a run: a read that fails is a miss (ENOENT: not there; a damaged entry:
// counted and rewritten; any other error, such as EMFILE: counted), and a write that fails turns
// writing off with one warning, the entries already there still being read. The folder is
// capped (cache-folder.ts): past the cap, the least recently used entries go first.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describeIoError, errnoCode } from '../fsutil.js';
import { SafetensorsFile, writeSafetensors, type Dtype } from '../safetensors.js';
import {
  DEFAULT_CACHE_MAX, EVICT_TO, evictCacheFolder, readCacheSettings, scanCacheFolder, writeCacheSettings,
} from './cache-folder.js';

/** Bytes hashed at the start, the middle and the end of a video for its content identity. */
const EDGE_BYTES = 64 * 1024;
/** Identities remembered per process (about 200 bytes each); beyond, the memo starts again. */
const MEMO_LIMIT = 50_000;

export interface CacheEntry {
  shape: number[];
  data: Float32Array;
}

export interface CacheStats {
  hits: number;
  /** Entries not there (ENOENT). */
  misses: number;
  writes: number;
  /** Entries that could not be parsed (damaged): treated as misses and rewritten. */
  damaged: number;
  /** Reads that failed for another reason (EMFILE, EIO, …): treated as misses. */
  errors: number;
  /** Entries this process evicted to keep the folder under its cap. */
  evicted: number;
}

export interface FeatureCacheOptions {
  /**
   * The most bytes the folder may hold. Given, it is recorded in the folder (cache.json) for
   * every later user of it; absent, the folder's recorded cap applies, else DEFAULT_CACHE_MAX.
   */
  maxBytes?: number;
  /** Told once, in one line, when a write fails and writing is turned off (default: process.emitWarning). */
  warn?(message: string): void;
}

export class FeatureCache {
  readonly stats: CacheStats = { hits: 0, misses: 0, writes: 0, damaged: 0, errors: 0, evicted: 0 };
  private readonly identities = new Map<string, Promise<string>>();
  /** Why writing was turned off, once a write failed. */
  private writeOff: string | null = null;
  /** The cap and the bytes in the folder as far as this process knows (scanned at the first write). */
  private usage?: Promise<{ cap: number; used: number }>;
  private evicting?: Promise<void>;

  /**
   * @param dir cache directory (created on first write)
   * @param backboneDigest Backbone.digest
   * @param dtype storage type: F32 (exact, default) or F16 (half the disk; features then differ from fresh ones by fp16 rounding)
   */
  constructor(
    readonly dir: string,
    readonly backboneDigest: string,
    readonly dtype: Extract<Dtype, 'F32' | 'F16'> = 'F32',
    private readonly options: FeatureCacheOptions = {},
  ) {}

  /** Whether new entries are still written (false after a failed write). */
  get writable(): boolean {
    return this.writeOff === null;
  }

  /** The folder's cap: the one given, else the one recorded in the folder, else DEFAULT_CACHE_MAX. */
  async maxBytes(): Promise<number> {
    return this.options.maxBytes ?? (await readCacheSettings(this.dir)).maxBytes ?? DEFAULT_CACHE_MAX;
  }

  /** A string that changes whenever the file's content may have changed, the same for a copy of it anywhere. */
  async fileIdentity(file: string): Promise<string> {
    const stat = await fs.stat(file);
    const memo = `${path.resolve(file)}\0${stat.size}\0${stat.mtimeMs}\0${stat.ino}`;
    let identity = this.identities.get(memo);
    if (!identity) {
      if (this.identities.size >= MEMO_LIMIT) this.identities.clear();
      identity = contentIdentity(file, stat.size);
      this.identities.set(memo, identity);
      identity.catch(() => this.identities.delete(memo));
    }
    return identity;
  }

  /** The cache key of (video, view spec). `spec` must hold every sampling setting the features depend on. */
  async key(file: string, spec: Record<string, unknown>): Promise<string> {
    const identity = await this.fileIdentity(file);
    return createHash('sha256')
      .update(stableJson({ v: 2, backbone: this.backboneDigest, file: identity, spec, dtype: this.dtype }))
      .digest('hex');
  }

  private pathOf(key: string): string {
    return path.join(this.dir, key.slice(0, 2), `${key}.safetensors`);
  }

  /** The entry, or null (a miss) when it is not there or cannot be read. A hit marks the entry as used now. */
  async get(key: string): Promise<CacheEntry | null> {
    const file = this.pathOf(key);
    let st: SafetensorsFile;
    try {
      st = await SafetensorsFile.open(file);
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT') this.stats.misses++;
      else if (code !== undefined) this.stats.errors++;
      else this.stats.damaged++; // no system error: the file is there but is not a valid entry
      return null;
    }
    let entry: CacheEntry;
    try {
      entry = { shape: st.info('features').shape, data: await st.readFloat32('features') };
    } catch {
      this.stats.damaged++;
      return null;
    } finally {
      await st.close();
    }
    this.stats.hits++;
    // Recency for the eviction of least recently used entries; the entry may be gone already.
    const now = new Date();
    await fs.utimes(file, now, now).catch(() => undefined);
    return entry;
  }

  // --- for `losa extract` and its workers (src/extract/): planning and cleaning up without reading entries ---

  /** The file an entry of `key` is stored in. */
  entryPath(key: string): string {
    return this.pathOf(key);
  }

  /** Whether an entry of `key` exists (it is not read: a damaged one still counts). */
  async has(key: string): Promise<boolean> {
    return fs.access(this.pathOf(key)).then(() => true, () => false);
  }

  // --- end ---

  /**
   * Stores an entry; resolves to whether it was written. A failed write (a full disk, a
   * read-only folder) is told once through `warn` and turns writing off; it never throws.
   */
  async put(key: string, entry: CacheEntry, metadata: Record<string, string> = {}): Promise<boolean> {
    if (this.writeOff !== null) return false;
    const file = this.pathOf(key);
    try {
      const usage = await this.knownUsage();
      await writeSafetensors(file, [{ name: 'features', shape: entry.shape, data: entry.data, dtype: this.dtype }], {
        backbone: this.backboneDigest,
        ...metadata,
      });
      this.stats.writes++;
      usage.used += (await fs.stat(file)).size;
      if (usage.used > usage.cap) await this.evict(usage);
      return true;
    } catch (error) {
      this.turnWritingOff(error);
      return false;
    }
  }

  private knownUsage(): Promise<{ cap: number; used: number }> {
    this.usage ??= (async () => {
      const recorded = (await readCacheSettings(this.dir)).maxBytes;
      const cap = this.options.maxBytes ?? recorded ?? DEFAULT_CACHE_MAX;
      if (this.options.maxBytes !== undefined && recorded !== this.options.maxBytes) {
        await fs.mkdir(this.dir, { recursive: true });
        await writeCacheSettings(this.dir, { maxBytes: this.options.maxBytes });
      }
      return { cap, used: (await scanCacheFolder(this.dir)).bytes };
    })();
    return this.usage;
  }

  /** Least recently used entries out, down to EVICT_TO of the cap (one eviction at a time). */
  private async evict(usage: { cap: number; used: number }): Promise<void> {
    this.evicting ??= evictCacheFolder(this.dir, Math.floor(usage.cap * EVICT_TO), Date.now())
      .then((result) => {
        usage.used = result.remainingBytes;
        this.stats.evicted += result.removed;
      })
      .finally(() => {
        this.evicting = undefined;
      });
    await this.evicting;
  }

  private turnWritingOff(error: unknown): void {
    if (this.writeOff !== null) return;
    this.writeOff = describeIoError(error);
    const message = `feature cache ${this.dir}: cannot write (${this.writeOff}); new features are not cached for the rest of this run, the entries already there are still read`;
    if (this.options.warn) this.options.warn(message);
    else process.emitWarning(message, 'LosaWarning');
  }
}

/** sha256 of the file's size and its first, middle and last EDGE_BYTES (the whole file when it is small). */
async function contentIdentity(file: string, size: number): Promise<string> {
  const hash = createHash('sha256').update(`size ${size}\0`);
  const handle = await fs.open(file, 'r');
  try {
    const starts = size <= 3 * EDGE_BYTES ? [0] : [0, Math.floor(size / 2 - EDGE_BYTES / 2), size - EDGE_BYTES];
    for (const start of starts) {
      const block = Buffer.alloc(Math.min(size <= 3 * EDGE_BYTES ? size : EDGE_BYTES, size - start));
      await handle.read(block, 0, block.length, start);
      hash.update(block);
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/** JSON with object keys sorted, so that equal specs give equal keys whatever their key order. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
