// Data sets: a list of (video file, class) pairs from one of three layouts, plus an honest
// account of what was left out. Listing never fails because of one bad entry: missing or
// empty files and unknown labels are collected in `problems`, files that are not video or
// image files are counted in `ignored`, and the caller decides what to do with them.
import { promises as fs, statSync, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import { LosaError } from '../errors.js';

export interface DatasetItem {
  /** Absolute path of the video (or image) file. */
  path: string;
  /** Index into `Dataset.classes`. */
  label: number;
  className: string;
}

export interface DatasetProblem {
  path: string;
  reason: string;
}

export type DatasetFormat = 'folder' | 'kinetics-csv' | 'list';

export interface Dataset {
  /** The folder, CSV file or list file the data set was read from. */
  source: string;
  format: DatasetFormat;
  split: string;
  /** Class names; a label is an index into this list. */
  classes: string[];
  items: DatasetItem[];
  /** Entries that could not be used: missing, empty, unknown class, malformed line. */
  problems: DatasetProblem[];
  /** Files skipped because their names do not end in a video or image extension. */
  ignored: number;
}

export interface OpenDatasetOptions {
  split: string;
  /** Use this class list (e.g. the training set's for validation); other labels are problems. */
  classes?: string[];
  /** Kinetics CSV: the folder holding `<split>/…` (default: the CSV's folder). List: base of relative paths. */
  root?: string;
}

/** Split names that mean the same thing in the wild. */
const SPLIT_ALIASES: Record<string, string[]> = {
  train: ['train', 'training'],
  val: ['val', 'validate', 'validation', 'valid'],
  test: ['test', 'testing'],
};

/** The canonical name of a split (`validate` → `val`), or the name itself. */
export function canonicalSplit(split: string): string {
  const s = split.trim().toLowerCase();
  for (const [canonical, names] of Object.entries(SPLIT_ALIASES)) if (names.includes(s)) return canonical;
  return s;
}

/** The names a split's folder may have, the given one first. */
export function splitFolderNames(split: string): string[] {
  const names = SPLIT_ALIASES[canonicalSplit(split)] ?? [];
  return [...new Set([split, ...names])];
}

/** Code-point order: the same on every machine and locale. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Maps label names to class indices. Without a fixed list the classes are the sorted distinct
 * names; with one (`options.classes`), names outside it are problems.
 */
export class ClassMap {
  private readonly index = new Map<string, number>();
  constructor(readonly classes: string[], readonly fixed: boolean) {
    classes.forEach((name, i) => this.index.set(name, i));
  }
  static fromNames(names: Iterable<string>, fixed?: readonly string[]): ClassMap {
    if (fixed) return new ClassMap([...fixed], true);
    return new ClassMap([...new Set(names)].sort(compareNames), false);
  }
  lookup(name: string): number | undefined {
    return this.index.get(name);
  }
}

/** How many stat calls run between two turns of the event loop. */
const STAT_BATCH = 2048;

/**
 * What `pick` keeps of the stat of many paths, null where a path does not exist. Measured
 * here: a synchronous stat costs about 8 µs, an asynchronous one about 27 µs even 64 at a time
 * (and 110 µs when the file is missing, for the error), so stats run synchronously in batches,
 * yielding to the event loop between batches; with `knownMissing`, paths already known not to
 * exist are not stat'ed. Only what `pick` returns is kept: holding 270,000 Stats objects (each
 * with its four Dates) tripled the time of listing Kinetics-400 in garbage collection.
 */
export async function statMany<T>(
  paths: readonly string[], pick: (stat: Stats) => T, knownMissing?: (index: number) => boolean,
): Promise<(T | null)[]> {
  const out = new Array<T | null>(paths.length).fill(null);
  for (let from = 0; from < paths.length; from += STAT_BATCH) {
    const to = Math.min(paths.length, from + STAT_BATCH);
    for (let i = from; i < to; i++) {
      if (knownMissing?.(i)) continue;
      try {
        const stat = statSync(paths[i]!, { throwIfNoEntry: false });
        out[i] = stat ? pick(stat) : null;
      } catch {
        out[i] = null; // EACCES, ENOTDIR: as good as missing
      }
    }
    if (to < paths.length) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return out;
}

/**
 * Which of `files` exist, by listing each folder once (a missing file then costs no stat). When
 * there are about as many folders as files, listing saves nothing and everything counts as
 * possibly present.
 */
async function presentByListing(files: readonly string[]): Promise<(index: number) => boolean> {
  const byDir = new Map<string, Set<string> | null>();
  for (const f of files) byDir.set(path.dirname(f), null);
  if (byDir.size * 4 > files.length) return () => true;
  const dirs = [...byDir.keys()];
  for (let i = 0; i < dirs.length; i += 16) {
    await Promise.all(dirs.slice(i, i + 16).map(async (dir) => {
      try {
        byDir.set(dir, new Set(await fs.readdir(dir)));
      } catch {
        byDir.set(dir, new Set());
      }
    }));
  }
  return (index) => byDir.get(path.dirname(files[index]!))!.has(path.basename(files[index]!));
}

/**
 * Keep the candidates that exist and are not empty: the others become problems (`missing`,
 * `empty file`, `not a file`). Order is preserved. `listed`: the files were found by listing
 * their folders, so only their sizes need checking.
 */
export async function checkFiles(candidates: readonly DatasetItem[], problems: DatasetProblem[], listed = false): Promise<DatasetItem[]> {
  const files = candidates.map((c) => c.path);
  const present = listed ? () => true : await presentByListing(files);
  const sizes = await statMany(files, (stat) => (stat.isFile() ? stat.size : -1), (i) => !present(i)); // -1: not a file
  const items: DatasetItem[] = [];
  candidates.forEach((c, i) => {
    const size = sizes[i];
    if (size === null || size === undefined) problems.push({ path: c.path, reason: 'missing' });
    else if (size < 0) problems.push({ path: c.path, reason: 'not a file' });
    else if (size === 0) problems.push({ path: c.path, reason: 'empty file' });
    else items.push(c);
  });
  return items;
}

/** Entries of a directory, or null when it does not exist. */
export async function readDirOrNull(dir: string): Promise<Dirent[] | null> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new LosaError(`${dir}: cannot list (${code ?? (error as Error).message})`);
  }
}

/** Whether a directory entry is a directory, following symbolic links. */
export async function isDirectoryEntry(dir: string, entry: Dirent): Promise<boolean> {
  if (entry.isDirectory()) return true;
  if (!entry.isSymbolicLink()) return false;
  try {
    return (await fs.stat(path.join(dir, entry.name))).isDirectory();
  } catch {
    return false;
  }
}
