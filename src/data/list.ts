// Layout (c): a list file of `<path> <label>` lines. The label is the last whitespace-separated
// word, so paths may contain spaces; relative paths are relative to the list's folder (or
// `root`). Labels are class names, or class indices when every label is an integer (or when
// a class list is given and the integer is within it). Blank lines and lines starting with
// `#` are skipped.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LosaError } from '../errors.js';
import { isMediaPath } from '../media.js';
import {
  ClassMap, checkFiles,
  type Dataset, type DatasetItem, type DatasetProblem, type OpenDatasetOptions,
} from './dataset.js';

const INTEGER = /^\d+$/;

export async function openListDataset(listPath: string, options: OpenDatasetOptions): Promise<Dataset> {
  let text: string;
  try {
    text = await fs.readFile(listPath, 'utf8');
  } catch (error) {
    throw new LosaError(`${listPath}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const base = path.resolve(options.root ?? path.dirname(listPath));
  const problems: DatasetProblem[] = [];
  const entries: { file: string; label: string }[] = [];
  let ignored = 0;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(.*\S)\s+(\S+)$/.exec(line);
    if (!m) {
      problems.push({ path: `${listPath}:${i + 1}`, reason: 'malformed line (expected "<path> <label>")' });
      return;
    }
    const file = path.resolve(base, m[1]!);
    if (!isMediaPath(file)) ignored++;
    else entries.push({ file, label: m[2]! });
  });

  const fixed = options.classes;
  const byIndex = !fixed && entries.length > 0 && entries.every((e) => INTEGER.test(e.label));
  let classes: ClassMap;
  if (byIndex) {
    const max = entries.reduce((m, e) => Math.max(m, Number(e.label)), 0);
    classes = new ClassMap(Array.from({ length: max + 1 }, (_, k) => String(k)), false);
  } else {
    classes = ClassMap.fromNames(entries.map((e) => e.label), fixed);
  }
  const candidates: DatasetItem[] = [];
  for (const { file, label } of entries) {
    let index = byIndex ? Number(label) : classes.lookup(label);
    if (index === undefined && fixed && INTEGER.test(label) && Number(label) < fixed.length) index = Number(label);
    if (index === undefined) problems.push({ path: file, reason: `class "${label}" is not one of the model's classes` });
    else candidates.push({ path: file, label: index, className: classes.classes[index]! });
  }
  const items = await checkFiles(candidates, problems);
  return { source: listPath, format: 'list', split: options.split, classes: classes.classes, items, problems, ignored };
}
