// The data of a training run: the training set and the validation set, listed, with what the
// listing could not use reported once (listing.ts). A validation source that yields no videos
// is an error naming it, never a silent run without validation: that takes an explicit
// --no-val (TrainOptions.validation false), which the run's header then says.
import { openDataset, type Dataset } from '../data/index.js';
import { LosaError, errorMessage } from '../errors.js';
import type { RunManifest } from '../model/index.js';
import type { EventSink } from './events.js';
import { reportListing, type ListedSet } from './listing.js';
import type { RunLog } from './log.js';
import type { TrainOptions } from './options.js';

const NO_VAL_HINT = 'give the validation videos with --val-data SRC, or pass --no-val to train without validation';

/** The training and validation sets (null with --no-val); what could not be listed goes to the log. */
export async function openData(
  opts: TrainOptions, previous: RunManifest | null, log: RunLog, emit: EventSink,
): Promise<{ trainSet: Dataset; valSet: Dataset | null }> {
  const trainSet = await openDataset(opts.data, { split: opts.trainSplit });
  if (previous && trainSet.items.length > 0 && previous.classes.join('\n') !== trainSet.classes.join('\n')) {
    throw new LosaError(`${opts.data}: classes differ from the run being resumed (${previous.classes.join(', ')})`);
  }
  const valSet = opts.validation ? await openValidation(opts, trainSet.classes) : null;
  const sets: ListedSet[] = [{ role: opts.trainSplit, set: trainSet }];
  if (valSet) sets.push({ role: opts.valSplit, set: valSet });
  await reportListing(sets, log, emit);
  for (const { role, set } of sets) {
    if (set.items.length > 0) continue;
    const listed = set.problems.length > 0 ? ` (${set.problems.length} listed, none usable; see ${log.file})` : '';
    const what = set === trainSet ? 'training' : 'validation';
    throw new LosaError(`${set.source}: no ${what} videos in split "${role}"${listed}${set === valSet ? `; ${NO_VAL_HINT}` : ''}`);
  }
  return { trainSet, valSet };
}

/**
 * The validation set: --val-data's, else the validation split of --data; not finding it is an
 * error. `losa extract` opens it with this too, to plan the very videos training validates on.
 */
export async function openValidation(opts: Pick<TrainOptions, 'data' | 'valData' | 'valSplit'>, classes: string[]): Promise<Dataset> {
  try {
    return await openDataset(opts.valData ?? opts.data, { split: opts.valSplit, classes });
  } catch (error) {
    throw new LosaError(`${errorMessage(error)}; ${NO_VAL_HINT}`);
  }
}
