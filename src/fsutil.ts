// Files are written to a temporary name beside the target, flushed to the disk (fsync), renamed,
// and the folder is flushed too: a killed run, or a power cut, never leaves a half-written or
// empty file where a good one was (a rename without the fsyncs can reach the disk before the
// data does).
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { failpoint } from './failpoint.js';

/**
 * A unique temporary path in the same directory as `target` (same filesystem, so rename is
 * atomic): `.<name>.tmp-<pid>-<random>`. The random part keeps two machines writing the same
 * entry of a shared folder (the feature cache) apart even when their process ids are equal.
 */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** The file a temporary name (tempPathFor) stands for, and the process id that wrote it; null for other names. */
export function parseTempName(name: string): { target: string; pid: number } | null {
  const m = /^\.(.+)\.tmp-(\d+)-[0-9a-f]+$/.exec(name);
  return m ? { target: m[1]!, pid: Number(m[2]) } : null;
}

/**
 * Removes the temporary files of `target` that writers killed mid-write left behind (from any
 * process); returns how many. Only for a target whose writer now owns it: a live writer's
 * temporary file would go too (its rename then fails).
 */
export async function removeTempsOf(target: string): Promise<number> {
  const dir = path.dirname(target);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const stale = names.filter((n) => parseTempName(n)?.target === path.basename(target));
  await Promise.all(stale.map((n) => fs.rm(path.join(dir, n), { force: true })));
  return stale.length;
}

/** Write `data` to `target` atomically (temporary file, fsync, rename, fsync of the folder). */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await withAtomicFile(target, (tmp) => fs.writeFile(tmp, data));
}

/** fsync a file or a folder by path. */
export async function syncPath(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A file being written under a temporary name: `commit` puts it in place, `abort` removes it. */
export interface AtomicFile {
  /** The temporary path to write. */
  tmp: string;
  /** fsync the file, rename it onto its target, fsync the folder. */
  commit(): Promise<void>;
  /** Remove the temporary file (after a failure). */
  abort(): Promise<void>;
}

/** Begin writing `target` atomically (its folder is made if missing). */
export async function openAtomicFile(target: string): Promise<AtomicFile> {
  const dir = path.dirname(target);
  await fs.mkdir(dir, { recursive: true });
  const tmp = tempPathFor(target);
  return {
    tmp,
    async commit() {
      failpoint(`write:${path.basename(target)}`);
      await syncPath(tmp);
      await fs.rename(tmp, target);
      await syncPath(dir);
    },
    abort: () => fs.rm(tmp, { force: true }),
  };
}

/**
 * Run `write(tmpPath)`, fsync the result, rename it onto `target` and fsync the folder; the
 * temporary file is removed on failure.
 */
export async function withAtomicFile<T>(target: string, write: (tmpPath: string) => Promise<T>): Promise<T> {
  const file = await openAtomicFile(target);
  try {
    const result = await write(file.tmp);
    await file.commit();
    return result;
  } catch (error) {
    await file.abort();
    throw error;
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** Parse a byte size such as "8GiB", "512MB", "1.5g" or "1000000". */
export function parseBytes(text: string): number {
  const m = /^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b?)\s*$/i.exec(text);
  if (!m) return Number.NaN;
  const value = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  const binary = m[3]!.toLowerCase().startsWith('i') || m[3] === '';
  const base = binary ? 1024 : 1000;
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[unit]!;
  return Math.round(value * base ** power);
}

/** "1.5 GiB" style formatting. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** The errno code of a failed file operation (ENOENT, ENOSPC, …), also when wrapped as a cause. */
export function errnoCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  return undefined;
}

const IO_WORDS: Record<string, string> = {
  ENOSPC: 'no space left on device', EDQUOT: 'disk quota exceeded', EACCES: 'permission denied', EPERM: 'operation not permitted',
  EROFS: 'read-only file system', EISDIR: 'is a folder', ENOTDIR: 'a part of the path is not a folder', EMFILE: 'too many open files',
  EIO: 'input/output error', ENOENT: 'no such file or folder', EFBIG: 'file too large',
};

/** A file error in words for a one-line message: "no space left on device, ENOSPC". */
export function describeIoError(error: unknown): string {
  const code = errnoCode(error);
  if (code === undefined) return error instanceof Error ? error.message : String(error);
  return IO_WORDS[code] ? `${IO_WORDS[code]}, ${code}` : code;
}
