// `losa train`: train the LoSA side network on a data set, with the dashboard on a terminal.
import path from 'node:path';
import { UsageError, expected } from '../errors.js';
import { DEFAULT_CACHE_MAX } from '../features/cache-folder.js';
import { formatBytes } from '../fsutil.js';
import { RUN_FILES } from '../model/run.js';
import { TRAIN_DEFAULTS as D, type TrainOptions } from '../train/options.js';
import { writingRunFile, type MetricsRecord } from '../train/rundir.js';
import { createRenderer, pickRenderMode, writeCurves, type CurvePoint } from '../ui/index.js';
import {
  CACHE_VIEW_OPTIONS, DEVICE_OPTIONS, RUN_SEED_OPTION, TRAIN_BACKBONE_OPTIONS, TRAIN_DATA_OPTIONS, TRAIN_SAMPLING_OPTIONS, WORKERS_OPTION, grouped,
  tfBackendOption,
} from './common.js';
import { defineCommand, type CommandArgs } from './command.js';
import { bytes, choice, custom, file, flag, int, num, text, type OptionTable } from './options.js';

/** The exit status of a run stopped by the user (q or Ctrl-C), as shells give an interrupted command. */
export const STOPPED_STATUS = 130;

const options = {
  ...grouped('Data', {
    ...TRAIN_DATA_OPTIONS,
    out: file({ value: 'RUN_DIR', help: 'the run directory (created)', required: true }),
  }),
  ...grouped('Backbone (frozen)', {
    ...TRAIN_BACKBONE_OPTIONS,
    ...DEVICE_OPTIONS,
  }),
  ...grouped('Side network', {
    side: choice({ values: ['losa', 'linear'] as const, help: 'LoSA, or the linear-probe baseline', default: D.side }),
    rank: int({ value: 'R', min: 1, help: 'rank of the channel mixers (D → R → D)', default: D.rank }),
    temporalRank: int({ value: 'R', min: 1, help: 'rank of the temporal mixers (T → R → T)', default: D.temporalRank }),
    spatialRank: int({ value: 'R', min: 1, help: 'rank of the token mixers (P → R → P)', default: D.spatialRank }),
    tfBackend: tfBackendOption(),
  }),
  ...grouped('Optimisation', {
    epochs: int({ value: 'N', min: 1, help: 'epochs', default: D.epochs }),
    batchSize: int({ value: 'N', min: 1, help: 'clips per batch', default: D.batchSize }),
    accumulate: int({ value: 'K', min: 1, help: 'batches per optimiser step (gradient accumulation)', default: D.accumulate }),
    sideBatch: int({ value: 'N', min: 1, help: 'clips per side-network call (rounded down to a divisor of the batch size; it bounds memory on tfjs ops, the host kernels take one clip at a time)', defaultText: 'what fits 32 MiB of activations' }),
    lr: num({ value: 'X', min: 0, help: 'peak learning rate (AdamW; linear warmup, then cosine)', default: D.lr }),
    weightDecay: num({ value: 'X', min: 0, help: 'AdamW weight decay (none on norms and biases)', default: D.weightDecay }),
    warmupEpochs: num({ value: 'N', min: 0, help: 'epochs of linear warmup', default: D.warmupEpochs }),
    labelSmoothing: num({ value: 'X', min: 0, max: 0.999, help: 'label smoothing', default: D.labelSmoothing }),
    ...RUN_SEED_OPTION,
  }),
  ...grouped('Sampling', TRAIN_SAMPLING_OPTIONS),
  ...grouped('Speed and state', {
    cache: file({ value: 'DIR', help: 'feature cache: each video\'s features are computed once per view', defaultText: '~/.cache/losa/features when they take ≤ 8 GiB' }),
    noCache: flag({ help: 'no feature cache' }),
    ...CACHE_VIEW_OPTIONS,
    ...WORKERS_OPTION,
    resume: flag({ help: 'continue RUN_DIR from its last checkpoint' }),
  }),
  ...grouped('Output', {
    noTui: flag({ help: 'plain log lines instead of the dashboard' }),
    json: flag({ help: 'NDJSON events instead of the dashboard' }),
  }),
} satisfies OptionTable;

export const command = defineCommand({
  name: 'train',
  usage: 'losa train --data SRC --out RUN_DIR [options]',
  description: `Trains the LoSA side network on the features of a frozen ViT. The backbone never sees a
gradient; only the side network (a few hundred thousand parameters) is trained.`,
  options,
  notes: `Press q or Ctrl-C to stop: a checkpoint is written first, and --resume continues from it.
Exit status: 0 when every epoch is done, ${STOPPED_STATUS} when stopped (q, Ctrl-C), 1 on a failure, 2 on a usage error.`,
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])} (see \`losa train --help\`)`);
    const opts = trainOptions(args);
    if (opts.warmupEpochs > opts.epochs) throw expected('--warmup-epochs', `at most --epochs (${opts.epochs})`, opts.warmupEpochs);
    // Loaded here: the loop brings onnxruntime and TensorFlow.js, which --help does not need.
    const { train } = await import('../train/loop.js');
    const controller = new AbortController();
    const mode = pickRenderMode({ isTTY: io.isTTY, noTui: args.options.noTui, json: args.options.json });
    const renderer = createRenderer(mode, io, { kind: 'train', onStop: () => controller.abort() });
    // Ctrl-C outside the dashboard (plain output, or a terminal the dashboard does not read):
    // the first stops after a checkpoint, the second quits at once.
    const onSigint = (): void => {
      if (controller.signal.aborted) process.exit(STOPPED_STATUS);
      controller.abort();
    };
    process.on('SIGINT', onSigint);
    try {
      const result = await train(opts, renderer.emit, controller.signal, {
        afterEpoch: async (runDir, metrics) => {
          const file = path.join(runDir, RUN_FILES.curves);
          await writingRunFile(file, () => writeCurves(file, curvePoints(metrics, opts.valSplit)));
          return [file];
        },
      });
      return result.status === 'stopped' ? STOPPED_STATUS : 0;
    } catch (error) {
      // The dashboard says the run failed; the reason is printed once, by the CLI, as its error line.
      renderer.emit({ type: 'end', status: 'failed', seconds: 0, files: [] });
      throw error;
    } finally {
      process.off('SIGINT', onSigint);
      await renderer.close();
    }
  },
});

/** The parsed options as the library's TrainOptions. */
function trainOptions({ options: o }: CommandArgs<typeof options>): TrainOptions {
  const { cropScale, noCache, noVal, cacheDtype, noTui: _t, json: _j, ...rest } = o;
  return {
    ...D,
    ...rest,
    validation: !noVal,
    scale: cropScale,
    cache: noCache ? undefined : (o.cache ?? D.cache),
    cacheDtype: cacheDtype === 'f16' ? 'F16' : 'F32',
  };
}

/** Per-epoch points for curves.svg from the metrics records. */
export function curvePoints(metrics: MetricsRecord[], valSplit: string): CurvePoint[] {
  const byEpoch = new Map<number, CurvePoint>();
  for (const r of metrics) {
    const p = byEpoch.get(r.epoch) ?? { epoch: r.epoch, trainLoss: Number.NaN, trainTop1: Number.NaN, lr: Number.NaN };
    if (r.split === 'train') {
      p.trainLoss = r.loss;
      p.trainTop1 = r.top1;
      p.lr = r.lr ?? Number.NaN;
    } else if (r.split === valSplit) {
      p.valLoss = r.loss;
      p.valTop1 = r.top1;
      p.valTop5 = r.top5;
    }
    byEpoch.set(r.epoch, p);
  }
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}
