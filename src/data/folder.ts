// Layout (a): ROOT/<split>/<class>/<video>. Classes are the sub-folders of the split folder
// (empty ones included), in sorted order unless a class list is given.
import path from 'node:path';
import { LosaError } from '../errors.js';
import { isMediaPath } from '../media.js';
import {
  ClassMap, checkFiles, compareNames, isDirectoryEntry, readDirOrNull, splitFolderNames,
  type Dataset, type DatasetItem, type DatasetProblem, type OpenDatasetOptions,
} from './dataset.js';

/** The split's folder under `root` (`val` also finds `validate`, `validation`, …), or null. */
export async function findSplitFolder(root: string, split: string): Promise<string | null> {
  for (const name of splitFolderNames(split)) {
    const dir = path.join(root, name);
    const entries = await readDirOrNull(dir);
    if (entries) return dir;
  }
  return null;
}

export async function openFolderDataset(root: string, options: OpenDatasetOptions): Promise<Dataset> {
  const splitDir = await findSplitFolder(root, options.split);
  if (!splitDir) throw new LosaError(`${root}: no "${options.split}" folder (expected ${path.join(root, options.split, '<class>', '<video>')})`);
  const entries = (await readDirOrNull(splitDir)) ?? [];
  const classDirs: string[] = [];
  let ignored = 0;
  for (const entry of entries) {
    if (await isDirectoryEntry(splitDir, entry)) classDirs.push(entry.name);
    else ignored++; // a loose file beside the class folders has no class
  }
  classDirs.sort(compareNames);
  const classes = ClassMap.fromNames(classDirs, options.classes);
  const problems: DatasetProblem[] = [];
  const candidates: DatasetItem[] = [];
  for (const className of classDirs) {
    const dir = path.join(splitDir, className);
    const files = ((await readDirOrNull(dir)) ?? []).filter((e) => !e.isDirectory()).map((e) => e.name).sort(compareNames);
    const label = classes.lookup(className);
    for (const name of files) {
      const file = path.join(dir, name);
      if (!isMediaPath(name)) ignored++;
      else if (label === undefined) problems.push({ path: file, reason: `class "${className}" is not one of the model's classes` });
      else candidates.push({ path: file, label, className });
    }
  }
  const items = await checkFiles(candidates, problems, true);
  return { source: root, format: 'folder', split: options.split, classes: classes.classes, items, problems, ignored };
}
