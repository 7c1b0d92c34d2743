// Step 3 of a training run: validate. The side network as it stands after the epoch, on the
// validation set's test views (--val-views × --val-crops), exactly as `losa eval` sees them
// (the same test plan and seed, so eval reuses the cache entries validation wrote).
import { evaluate, testPlan, validationSeed } from '../model/index.js';
import type { EpochSummary } from './events.js';
import type { TrainingRun } from './prepare.js';

/** Validation loss, top-1 and top-5 after epoch `epoch` (from 0); undefined without a validation set. */
export async function validate(run: TrainingRun, epoch: number, signal: AbortSignal): Promise<EpochSummary['val']> {
  const { opts, valSet } = run;
  if (!valSet || valSet.items.length === 0) return undefined;
  const plan = testPlan(run.manifest.sampling, { views: opts.valViews, crops: opts.valCrops }, validationSeed(opts.seed));
  const result = await evaluate(
    { backbone: run.backbone, net: run.net, plan, batchSize: opts.batchSize, workers: opts.workers, cache: run.cache },
    valSet.items,
    run.manifest.classes,
    {
      signal,
      onSkip: (item, reason) => run.skip(item, reason),
      onProgress: (done, total) => run.emit({ type: 'validate', epoch: epoch + 1, done, total: total ?? valSet.items.length }),
    },
  );
  return { loss: result.loss, top1: result.top1, top5: result.top5 };
}
