// Layout (b): Kinetics annotations. A CSV with a header naming at least `label, youtube_id,
// time_start, time_end` (and usually `split`); the clip of a row is the file
// `<youtube_id>_<start:06d>_<end:06d>.<ext>` in ROOT/<split>/<label>/ or flat in ROOT/<split>/.
// ROOT defaults to the CSV's folder. Folder names are matched leniently, as download scripts
// differ: the split may be `val`/`validate`/`validation`, and a label folder may use `_` for
// spaces and drop quotes and parentheses.
//
// Each folder is listed once (files are found by name in memory, never probed one by one), and
// only the files found are stat'ed (for their size), concurrently: 300,000 rows take seconds.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LosaError } from '../errors.js';
import { isMediaPath } from '../media.js';
import { forEachCsvRow } from './csv.js';
import {
  canonicalSplit, ClassMap, checkFiles, isDirectoryEntry, readDirOrNull,
  type Dataset, type DatasetItem, type DatasetProblem, type OpenDatasetOptions,
} from './dataset.js';
import { findSplitFolder } from './folder.js';

/** `<youtube_id>_<start:06d>_<end:06d>`: the stem of a Kinetics clip file. */
export function kineticsStem(youtubeId: string, start: number, end: number): string {
  const pad = (n: number): string => (n < 0 ? '-' + String(-n).padStart(6, '0') : String(n).padStart(6, '0'));
  return `${youtubeId}_${pad(start)}_${pad(end)}`;
}

/** The folder names a label may have on disk, the label itself first. */
export function labelFolderNames(label: string): string[] {
  const underscored = label.replace(/\s+/g, '_');
  const stripped = (s: string): string => s.replace(/["'()]/g, '');
  return [...new Set([label, underscored, stripped(label), stripped(underscored)])];
}

/** Media files of one folder by stem (name without extension); other files are counted. */
class FolderIndex {
  readonly byStem = new Map<string, string>();
  ignored = 0;
  constructor(readonly dir: string) {}
  add(name: string): void {
    if (!isMediaPath(name)) {
      this.ignored++;
      return;
    }
    const stem = name.slice(0, name.length - path.extname(name).length);
    if (!this.byStem.has(stem)) this.byStem.set(stem, name);
  }
}

export async function openKineticsCsv(csvPath: string, options: OpenDatasetOptions): Promise<Dataset> {
  let text: string;
  try {
    text = await fs.readFile(csvPath, 'utf8');
  } catch (error) {
    throw new LosaError(`${csvPath}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let header: string[] | null = null;
  let cLabel = -1, cId = -1, cStart = -1, cEnd = -1, cSplit = -1, needed = 0;
  const wanted = canonicalSplit(options.split);
  const splitMatches = new Map<string, boolean>(); // raw split value → selected?
  const problems: DatasetProblem[] = [];
  const selected: { label: string; stem: string }[] = [];
  forEachCsvRow(text, (fields, line) => {
    if (header === null) {
      header = fields.map((h) => h.trim().toLowerCase());
      [cLabel, cId, cStart, cEnd, cSplit] = ['label', 'youtube_id', 'time_start', 'time_end', 'split'].map((name) => header!.indexOf(name)) as [number, number, number, number, number];
      if (cId < 0 || cStart < 0 || cEnd < 0) {
        throw new LosaError(`${csvPath}: not a Kinetics CSV (its header needs youtube_id, time_start, time_end and label; got ${header.join(',')})`);
      }
      if (cLabel < 0) throw new LosaError(`${csvPath}: no label column (a CSV without labels cannot train or evaluate)`);
      needed = Math.max(cLabel, cId, cStart, cEnd, cSplit) + 1;
      return;
    }
    if (cSplit >= 0 && fields.length > cSplit) {
      const raw = fields[cSplit]!;
      let keep = splitMatches.get(raw);
      if (keep === undefined) splitMatches.set(raw, (keep = canonicalSplit(raw) === wanted));
      if (!keep) return;
    }
    const start = Number(fields[cStart]);
    const end = Number(fields[cEnd]);
    const label = fields[cLabel]?.trim() ?? '';
    const id = fields[cId]?.trim() ?? '';
    if (fields.length < needed || label === '' || id === '' || !Number.isFinite(start) || !Number.isFinite(end)) {
      problems.push({ path: `${csvPath}:${line}`, reason: 'malformed row' });
      return;
    }
    selected.push({ label, stem: kineticsStem(id, Math.trunc(start), Math.trunc(end)) });
  });
  if (header === null) throw new LosaError(`${csvPath}: empty CSV file`);
  const root = path.resolve(options.root ?? path.dirname(csvPath));

  const splitDir = await findSplitFolder(root, options.split);
  if (!splitDir) {
    throw new LosaError(`${root}: no "${options.split}" folder for ${csvPath} (expected ${path.join(root, options.split, '<label>', '<youtube_id>_<start>_<end>.mp4')}; set the root)`);
  }
  // The split folder: label folders by name, loose clips by stem.
  const flat = new FolderIndex(splitDir);
  const subdirs = new Set<string>();
  for (const entry of (await readDirOrNull(splitDir)) ?? []) {
    if (await isDirectoryEntry(splitDir, entry)) subdirs.add(entry.name);
    else flat.add(entry.name);
  }
  const labelIndex = new Map<string, FolderIndex | null>();
  const indexFor = async (label: string): Promise<FolderIndex | null> => {
    if (labelIndex.has(label)) return labelIndex.get(label)!;
    const name = labelFolderNames(label).find((n) => subdirs.has(n));
    let index: FolderIndex | null = null;
    if (name !== undefined) {
      index = new FolderIndex(path.join(splitDir, name));
      for (const entry of (await readDirOrNull(index.dir)) ?? []) if (!entry.isDirectory()) index.add(entry.name);
    }
    labelIndex.set(label, index);
    return index;
  };

  // Every label's folder listed before the rows are matched, 16 at a time: listed one by one
  // as rows asked for them, the waits of 400 folders added up to a fifth of a second.
  const labels = [...new Set(selected.map((s) => s.label))];
  for (let i = 0; i < labels.length; i += 16) await Promise.all(labels.slice(i, i + 16).map(indexFor));
  const classes = ClassMap.fromNames(labels, options.classes);
  const candidates: DatasetItem[] = [];
  const labelDirs = new Map<string, string>();
  for (const { label, stem } of selected) {
    const index = labelIndex.has(label) ? labelIndex.get(label)! : await indexFor(label);
    let labelDir = labelDirs.get(label);
    if (labelDir === undefined) labelDirs.set(label, (labelDir = index?.dir ?? path.join(splitDir, label)));
    const inLabel = index?.byStem.get(stem);
    const loose = inLabel === undefined ? flat.byStem.get(stem) : undefined;
    const classIndex = classes.lookup(label);
    if (inLabel === undefined && loose === undefined) problems.push({ path: `${labelDir}${path.sep}${stem}.mp4`, reason: 'missing' });
    else {
      const file = inLabel !== undefined ? `${labelDir}${path.sep}${inLabel}` : `${splitDir}${path.sep}${loose}`;
      if (classIndex === undefined) problems.push({ path: file, reason: `class "${label}" is not one of the model's classes` });
      else candidates.push({ path: file, label: classIndex, className: label });
    }
  }
  const items = await checkFiles(candidates, problems, true);
  let ignored = flat.ignored;
  for (const index of labelIndex.values()) ignored += index?.ignored ?? 0;
  return { source: csvPath, format: 'kinetics-csv', split: options.split, classes: classes.classes, items, problems, ignored };
}
