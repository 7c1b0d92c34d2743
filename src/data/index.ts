// Public API of src/data/: folder, Kinetics CSV and list-file data sets.
export {
  canonicalSplit, splitFolderNames,
  type Dataset, type DatasetItem, type DatasetProblem, type DatasetFormat, type OpenDatasetOptions,
} from './dataset.js';
export { parseCsv, type CsvRow } from './csv.js';
export { openFolderDataset, findSplitFolder } from './folder.js';
export { openKineticsCsv, kineticsStem, labelFolderNames } from './kinetics.js';
export { openListDataset } from './list.js';
export { openDataset } from './open.js';
