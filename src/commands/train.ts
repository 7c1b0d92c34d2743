// `losa train`: train the LoSA side network on a data set, with the dashboard on a terminal.
import path from 'node:path';
import { UsageError, expected } from '../errors.js';
import { RUN_FILES, TRAIN_DEFAULTS, train, type MetricsRecord, type TrainOptions } from '../train/index.js';
import { createRenderer, pickRenderMode, writeCurves, type CurvePoint } from '../ui/index.js';
import { bool, choice, int, num, requireStr, str } from './args.js';
import type { Command } from './command.js';

const D = TRAIN_DEFAULTS;

const usage = `Usage: losa train --data DIR --out RUN_DIR [options]

Trains the LoSA side network on the features of a frozen ViT. The backbone never sees a
gradient; only the side network (a few hundred thousand parameters) is trained.

Data
  --data SRC              folder ROOT/<split>/<class>/<video>, Kinetics CSV, or list file
  --val-data SRC          validation source (default: the "${D.valSplit}" split of --data)
  --train-split NAME      (default ${D.trainSplit})        --val-split NAME (default ${D.valSplit})
Backbone (frozen)
  --backbone NAME|FILE|FOLDER
                          preset, config JSON or model folder (default ${D.backbone}; see losa info)
  --weights FILE          safetensors weights (default: the folder's, else seeded random)
  --image-size S          input size instead of the config's (position embeddings are interpolated)
  --pool MODE             none | cls | mean | grid:G (default ${D.pool})
  --layers SPEC           all | every:K | 3,6,9 (default ${D.layers})
  --device cpu|cuda       onnxruntime execution provider (default ${D.device})
  --chunk C               frames per backbone call (default: fits the memory budget)
Side network
  --side losa|linear      LoSA, or the linear-probe baseline (default ${D.side})
  --rank R  --temporal-rank R  --spatial-rank R    (defaults ${D.rank}, ${D.temporalRank}, ${D.spatialRank})
Optimisation
  --epochs N (${D.epochs})  --batch-size N (${D.batchSize})  --accumulate K (${D.accumulate})
  --side-batch N          clips per side-network call (default: what fits 32 MiB of activations)
  --lr X (${D.lr})  --weight-decay X (${D.weightDecay})  --warmup-epochs N (${D.warmupEpochs})
  --label-smoothing X (${D.labelSmoothing})  --seed N (${D.seed})
Sampling
  --num-frames T (${D.numFrames})  --sampling segment|window (${D.sampling})  --stride N|auto (${D.stride})
  --crop-scale MIN,MAX    area range of the random resized crop (${D.scale.join(',')})
  --flip                  random horizontal flips (off: flipping changes direction classes)
  --val-views V (${D.valViews})  --val-crops 1|3 (${D.valCrops})
Speed and state
  --cache DIR             feature cache: each video's features are computed once per view
                          (default: ~/.cache/losa/features when they take ≤ 8 GiB)
  --no-cache              no feature cache
  --cache-views N         augmented views per video kept in the cache (${D.cacheViews})
  --cache-dtype f32|f16   cache storage type (f32)
  --workers N             concurrent decoders (${D.workers})
  --resume                continue RUN_DIR from its last checkpoint
Output
  --no-tui                plain log lines instead of the dashboard   --json  NDJSON events
`;

export const command: Command = {
  name: 'train',
  summary: 'train the LoSA side network on a folder of videos',
  usage,
  options: {
    data: { type: 'string' }, 'val-data': { type: 'string' }, 'train-split': { type: 'string' }, 'val-split': { type: 'string' },
    out: { type: 'string' }, backbone: { type: 'string' }, weights: { type: 'string' }, 'image-size': { type: 'string' }, pool: { type: 'string' },
    layers: { type: 'string' }, device: { type: 'string' }, chunk: { type: 'string' }, 'backbone-seed': { type: 'string' },
    side: { type: 'string' }, rank: { type: 'string' }, 'temporal-rank': { type: 'string' }, 'spatial-rank': { type: 'string' },
    epochs: { type: 'string' }, 'batch-size': { type: 'string' }, 'side-batch': { type: 'string' }, accumulate: { type: 'string' }, lr: { type: 'string' },
    'weight-decay': { type: 'string' }, 'warmup-epochs': { type: 'string' }, 'label-smoothing': { type: 'string' },
    seed: { type: 'string' }, 'num-frames': { type: 'string' }, sampling: { type: 'string' }, stride: { type: 'string' },
    flip: { type: 'boolean' }, 'crop-scale': { type: 'string' }, 'val-views': { type: 'string' }, 'val-crops': { type: 'string' }, cache: { type: 'string' },
    'cache-views': { type: 'string' }, 'no-cache': { type: 'boolean' }, 'cache-dtype': { type: 'string' }, workers: { type: 'string' }, resume: { type: 'boolean' },
    'no-tui': { type: 'boolean' }, json: { type: 'boolean' }, 'tf-backend': { type: 'string' },
  },
  async run({ values, positionals }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} (see \`losa train --help\`)`);
    const strideText = str(values, 'stride');
    const stride = strideText === undefined || strideText === 'auto' ? D.stride : int(values, 'stride', 1, 1);
    const opts: TrainOptions = {
      ...D,
      data: requireStr(values, 'data'),
      valData: str(values, 'val-data'),
      trainSplit: str(values, 'train-split') ?? D.trainSplit,
      valSplit: str(values, 'val-split') ?? D.valSplit,
      out: requireStr(values, 'out'),
      backbone: str(values, 'backbone') ?? D.backbone,
      weights: str(values, 'weights'),
      imageSize: values['image-size'] === undefined ? undefined : int(values, 'image-size', 224, 16, 4096),
      pool: str(values, 'pool') ?? D.pool,
      layers: str(values, 'layers') ?? D.layers,
      device: choice(values, 'device', ['cpu', 'cuda'] as const, D.device),
      chunk: values.chunk === undefined ? undefined : int(values, 'chunk', 1, 1),
      backboneSeed: int(values, 'backbone-seed', D.backboneSeed),
      side: choice(values, 'side', ['losa', 'linear'] as const, D.side),
      rank: int(values, 'rank', D.rank, 1),
      temporalRank: int(values, 'temporal-rank', D.temporalRank, 1),
      spatialRank: int(values, 'spatial-rank', D.spatialRank, 1),
      epochs: int(values, 'epochs', D.epochs, 1),
      batchSize: int(values, 'batch-size', D.batchSize, 1),
      accumulate: int(values, 'accumulate', D.accumulate, 1),
      sideBatch: values['side-batch'] === undefined ? undefined : int(values, 'side-batch', 8, 1),
      lr: num(values, 'lr', D.lr, 0),
      weightDecay: num(values, 'weight-decay', D.weightDecay, 0),
      warmupEpochs: num(values, 'warmup-epochs', D.warmupEpochs, 0),
      labelSmoothing: num(values, 'label-smoothing', D.labelSmoothing, 0, 0.999),
      seed: int(values, 'seed', D.seed),
      numFrames: int(values, 'num-frames', D.numFrames, 1),
      sampling: choice(values, 'sampling', ['segment', 'window'] as const, D.sampling),
      stride,
      flip: bool(values, 'flip'),
      scale: range(str(values, 'crop-scale'), D.scale),
      valViews: int(values, 'val-views', D.valViews, 1),
      valCrops: Number(choice(values, 'val-crops', ['1', '3'] as const, String(D.valCrops) as '1')) as 1 | 3,
      cache: bool(values, 'no-cache') ? undefined : str(values, 'cache') ?? D.cache,
      cacheViews: int(values, 'cache-views', D.cacheViews, 1),
      cacheDtype: choice(values, 'cache-dtype', ['f32', 'f16'] as const, 'f32') === 'f16' ? 'F16' : 'F32',
      workers: int(values, 'workers', D.workers, 1),
      resume: bool(values, 'resume'),
      tfBackend: choice(values, 'tf-backend', ['auto', 'tensorflow', 'wasm', 'cpu'] as const, D.tfBackend),
    };
    if (opts.warmupEpochs > opts.epochs) throw expected('--warmup-epochs', `at most --epochs (${opts.epochs})`, opts.warmupEpochs);

    const controller = new AbortController();
    const mode = pickRenderMode({ isTTY: io.isTTY, noTui: bool(values, 'no-tui'), json: bool(values, 'json') });
    const renderer = createRenderer(mode, io, { kind: 'train', onStop: () => controller.abort() });
    // Ctrl-C outside the dashboard (plain output, or a terminal the dashboard does not read):
    // the first stops after a checkpoint, the second quits at once.
    const onSigint = (): void => {
      if (controller.signal.aborted) process.exit(130);
      controller.abort();
    };
    process.on('SIGINT', onSigint);
    try {
      const result = await train(opts, renderer.emit, controller.signal, {
        afterEpoch: async (runDir, metrics) => {
          const file = path.join(runDir, RUN_FILES.curves);
          await writeCurves(file, curvePoints(metrics, opts.valSplit));
          return [file];
        },
      });
      return result.status === 'done' || result.status === 'stopped' ? 0 : 1;
    } catch (error) {
      renderer.emit({ type: 'end', status: 'failed', seconds: 0, message: (error as Error).message, files: [] });
      throw error;
    } finally {
      process.off('SIGINT', onSigint);
      await renderer.close();
    }
  },
};

/** "0.5,1" → [0.5, 1]: a fraction range 0 < min ≤ max ≤ 1. */
function range(text: string | undefined, fallback: [number, number]): [number, number] {
  if (text === undefined) return fallback;
  const parts = text.split(',').map((p) => Number(p.trim()));
  const [lo, hi] = parts;
  if (parts.length !== 2 || !(lo! > 0 && lo! <= hi! && hi! <= 1)) throw expected('--crop-scale', 'MIN,MAX with 0 < MIN ≤ MAX ≤ 1', text);
  return [lo!, hi!];
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
