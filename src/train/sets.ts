// The data sets of a training run that are opened the same way by `losa train` and by
// `losa extract` (which must plan the very videos training will look up in the cache).
import { openDataset, type Dataset } from '../data/index.js';
import { errorMessage } from '../errors.js';
import type { EventSink } from './events.js';
import type { TrainOptions } from './options.js';

/** The validation set, or null when the source has no such split (and --val-data was not given). */
export async function openValidation(
  opts: Pick<TrainOptions, 'data' | 'valData' | 'valSplit'>, classes: string[], emit: EventSink,
): Promise<Dataset | null> {
  const source = opts.valData ?? opts.data;
  try {
    const set = await openDataset(source, { split: opts.valSplit, classes });
    return set.items.length > 0 ? set : null;
  } catch (error) {
    if (opts.valData) throw error;
    emit({ type: 'log', level: 'info', message: `no validation split "${opts.valSplit}" in ${source} (${errorMessage(error)}): training without validation` });
    return null;
  }
}
