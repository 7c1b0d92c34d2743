// Which layout a source is: a .csv file is Kinetics annotations, any other file a list file,
// and a folder is either ROOT/<split>/<class>/… or a folder of list files (<split>.txt,
// <split>.lst or <split>.csv) chosen by the split.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LosaError } from '../errors.js';
import { splitFolderNames, type Dataset, type OpenDatasetOptions } from './dataset.js';
import { findSplitFolder, openFolderDataset } from './folder.js';
import { openKineticsCsv } from './kinetics.js';
import { openListDataset } from './list.js';

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Open a data set: a folder, a Kinetics CSV or a list file (see the module comments). */
export async function openDataset(source: string, options: OpenDatasetOptions): Promise<Dataset> {
  if (typeof options.split !== 'string' || options.split.trim() === '') throw new LosaError(`${source}: no split given`);
  let stat;
  try {
    stat = await fs.stat(source);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LosaError(`${source}: ${code === 'ENOENT' ? 'no such file or folder' : `cannot read (${code})`}`);
  }
  if (stat.isFile()) {
    if (stat.size === 0) throw new LosaError(`${source}: empty file`);
    return path.extname(source).toLowerCase() === '.csv' ? openKineticsCsv(source, options) : openListDataset(source, options);
  }
  if (!stat.isDirectory()) throw new LosaError(`${source}: not a file or folder`);
  if (await findSplitFolder(source, options.split)) return openFolderDataset(source, options);
  for (const name of splitFolderNames(options.split)) {
    for (const ext of ['.txt', '.lst', '.csv']) {
      const file = path.join(source, name + ext);
      if (await isFile(file)) {
        return ext === '.csv' ? openKineticsCsv(file, { ...options, root: options.root ?? source }) : openListDataset(file, options);
      }
    }
  }
  throw new LosaError(
    `${source}: no "${options.split}" split here (expected ${path.join(source, options.split, '<class>', '<video>')}, ` +
    `or a list file ${options.split}.txt, or a Kinetics CSV)`,
  );
}
