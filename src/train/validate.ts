// Step 3 of a training run: validate. The side network as it stands after the epoch, on the
// validation set's test views (--val-views × --val-crops), exactly as `losa eval` sees them
// (the same test plan and seed, so eval reuses the cache entries validation wrote). A stop
// during validation counts nothing: the figures of part of the set would be recorded as the
// epoch's, and might even be saved as the best; the caller checkpoints the epoch's end instead,
// and the resumed run validates again.
import { failpoint } from '../failpoint.js';
import { evaluate, testPlan, validationSeed } from '../model/index.js';
import type { EpochSummary } from './events.js';
import type { TrainingRun } from './prepare.js';

/** The validation of an epoch: its figures (none without a validation set), or that a stop cut it short. */
export type ValidationResult = { stopped: false; val: EpochSummary['val'] } | { stopped: true };

/** Validation loss, top-1 and top-5 after epoch `epoch` (from 0). */
export async function validate(run: TrainingRun, epoch: number, signal: AbortSignal): Promise<ValidationResult> {
  const { opts, valSet } = run;
  if (!valSet || valSet.items.length === 0) return { stopped: false, val: undefined };
  const plan = testPlan(run.manifest.sampling, { views: opts.valViews, crops: opts.valCrops }, validationSeed(opts.seed));
  const result = await evaluate(
    { backbone: run.backbone, net: run.net, plan, batchSize: opts.batchSize, workers: opts.workers, cache: run.cache },
    valSet.items,
    run.manifest.classes,
    {
      signal,
      onSkip: (item, reason) => run.skip(item, reason),
      onProgress: (done, total) => {
        run.emit({ type: 'validate', epoch: epoch + 1, done, total: total ?? valSet.items.length });
        failpoint('validate');
      },
    },
  );
  // The pipeline ends early on a stop, so a stopped validation saw only part of the set.
  if (signal.aborted) return { stopped: true };
  return { stopped: false, val: { loss: result.loss, top1: result.top1, top5: result.top5 } };
}
