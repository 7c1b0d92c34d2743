// The feature cache. The backbone is frozen, so the features of one video, one sampled view and
// one backbone never change: compute them once, keep them on disk, reuse them in later epochs
// and in `eval`. The key covers everything the features depend on, so a stale entry can never
// be read: the backbone digest (config, weights bytes, pooling, tapped layers), the video file
// (path, size, modification time and a hash of its first and last 64 KiB), and the sampling
// settings and view. Entries are safetensors files holding `features` [V, T, L, P, D].
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { SafetensorsFile, writeSafetensors, type Dtype } from '../safetensors.js';

const EDGE_BYTES = 64 * 1024;

export interface CacheEntry {
  shape: number[];
  data: Float32Array;
}

export interface CacheStats {
  hits: number;
  misses: number;
  writes: number;
  /** Entries that could not be read (damaged): treated as misses and rewritten. */
  damaged: number;
}

export class FeatureCache {
  readonly stats: CacheStats = { hits: 0, misses: 0, writes: 0, damaged: 0 };
  private readonly identities = new Map<string, Promise<string>>();

  /**
   * @param dir cache directory (created on first write)
   * @param backboneDigest Backbone.digest
   * @param dtype storage type: F32 (exact, default) or F16 (half the disk; features then differ from fresh ones by fp16 rounding)
   */
  constructor(
    readonly dir: string,
    readonly backboneDigest: string,
    readonly dtype: Extract<Dtype, 'F32' | 'F16'> = 'F32',
  ) {}

  /** A string that changes whenever the file's content may have changed. */
  async fileIdentity(file: string): Promise<string> {
    const stat = await fs.stat(file);
    const memo = `${path.resolve(file)}\0${stat.size}\0${stat.mtimeMs}\0${stat.ino}`;
    let identity = this.identities.get(memo);
    if (!identity) {
      identity = (async () => {
        const hash = createHash('sha256').update(memo);
        const handle = await fs.open(file, 'r');
        try {
          const head = Buffer.alloc(Math.min(EDGE_BYTES, stat.size));
          await handle.read(head, 0, head.length, 0);
          hash.update(head);
          if (stat.size > EDGE_BYTES) {
            const tail = Buffer.alloc(Math.min(EDGE_BYTES, stat.size - EDGE_BYTES));
            await handle.read(tail, 0, tail.length, stat.size - tail.length);
            hash.update(tail);
          }
        } finally {
          await handle.close();
        }
        return hash.digest('hex');
      })();
      this.identities.set(memo, identity);
      identity.catch(() => this.identities.delete(memo));
    }
    return identity;
  }

  /** The cache key of (video, view spec). `spec` must hold every sampling setting the features depend on. */
  async key(file: string, spec: Record<string, unknown>): Promise<string> {
    const identity = await this.fileIdentity(file);
    return createHash('sha256')
      .update(stableJson({ v: 1, backbone: this.backboneDigest, file: identity, spec, dtype: this.dtype }))
      .digest('hex');
  }

  private pathOf(key: string): string {
    return path.join(this.dir, key.slice(0, 2), `${key}.safetensors`);
  }

  async get(key: string): Promise<CacheEntry | null> {
    const file = this.pathOf(key);
    let st: SafetensorsFile;
    try {
      st = await SafetensorsFile.open(file);
    } catch (error) {
      if ((error as Error).message.includes('no such file')) this.stats.misses++;
      else this.stats.damaged++;
      return null;
    }
    try {
      const data = await st.readFloat32('features');
      this.stats.hits++;
      return { shape: st.info('features').shape, data };
    } catch {
      this.stats.damaged++;
      return null;
    } finally {
      await st.close();
    }
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

  async put(key: string, entry: CacheEntry, metadata: Record<string, string> = {}): Promise<void> {
    await writeSafetensors(this.pathOf(key), [{ name: 'features', shape: entry.shape, data: entry.data, dtype: this.dtype }], {
      backbone: this.backboneDigest,
      ...metadata,
    });
    this.stats.writes++;
  }
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
