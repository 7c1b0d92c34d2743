// The training loop: frozen backbone features in, side-network updates out. It emits typed
// events and writes the run directory; it knows nothing of the screen.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadBackbone, resolveBackbone, type Backbone } from '../backbone/index.js';
import { openDataset, type Dataset, type DatasetItem } from '../data/index.js';
import { LosaError, errorMessage } from '../errors.js';
import { exists, formatBytes } from '../fsutil.js';
import { createRng } from '../random.js';
import {
  AdamW, GradientAccumulator, computeGradients, createSideNetwork, defaultSideConfig, getSideWeights,
  initTf, learningRateAt, setSideWeights, type SideNetwork,
} from '../side/index.js';
import { FeatureCache } from './cache.js';
import type { EpochSummary, EventSink, RunInfo } from './events.js';
import { evaluateFeatures } from './inference.js';
import { AUTO_CACHE_BYTES, defaultCacheDir, type TrainOptions } from './options.js';
import { clipFeatureSize, featureBatches, type ViewPlan } from './pipeline.js';
import {
  RUN_FILES, appendLog, appendMetrics, readCheckpoint, readManifest, readMetrics, saveBestWeights,
  saveLastCheckpoint, writeManifest, writeMetrics, type MetricsRecord, type ResumePoint, type RunManifest,
} from './rundir.js';

export interface TrainHooks {
  /** Called after each epoch's files are written (the command draws curves.svg here); returns files written. */
  afterEpoch?(runDir: string, metrics: MetricsRecord[]): Promise<string[]>;
}

export interface TrainResult {
  status: 'done' | 'stopped';
  runDir: string;
  epochs: EpochSummary[];
  bestTop1: number | null;
  skipped: Map<string, string>;
  files: string[];
}

/** Train the side network; resolves when done or stopped (signal), throws LosaError on failure. */
export async function train(
  opts: TrainOptions,
  emit: EventSink,
  signal: AbortSignal = new AbortController().signal,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const started = performance.now();
  const runDir = path.resolve(opts.out);
  const manifestFile = path.join(runDir, RUN_FILES.manifest);
  let previous: RunManifest | null = null;
  if (await exists(manifestFile)) {
    if (!opts.resume) throw new LosaError(`${runDir}: a run already exists here; pass --resume to continue it or choose another --out`);
    previous = await readManifest(runDir);
  } else if (opts.resume && !(await exists(path.join(runDir, RUN_FILES.last)))) {
    throw new LosaError(`${runDir}: nothing to resume (no ${RUN_FILES.last})`);
  }
  await fs.mkdir(runDir, { recursive: true });

  const trainSet = await openDataset(opts.data, { split: opts.trainSplit });
  if (trainSet.items.length === 0) throw new LosaError(`${opts.data}: no training videos found in split "${opts.trainSplit}"`);
  if (previous && previous.classes.join('\n') !== trainSet.classes.join('\n')) {
    throw new LosaError(`${opts.data}: classes differ from the run being resumed (${previous.classes.join(', ')})`);
  }
  const classes = trainSet.classes;
  const valSet = await openValidation(opts, classes, emit);
  for (const p of [...trainSet.problems, ...(valSet?.problems ?? [])]) {
    emit({ type: 'log', level: 'warn', message: `${p.path}: ${p.reason}` });
    await appendLog(runDir, `listing: ${p.path}: ${p.reason}`);
  }

  // A preset, a config file, or a model folder (its config, preprocessing and weights together).
  const resolved = await resolveBackbone(opts.backbone);
  if (resolved.folder) emit({ type: 'log', level: 'info', message: `backbone folder ${resolved.folder.note}` });
  const config = opts.imageSize ? { ...resolved.config, imageSize: opts.imageSize } : resolved.config;
  const weights = opts.weights ?? resolved.weights;
  const backbone = await loadBackbone({
    config, weights, pool: opts.pool, layers: opts.layers, device: opts.device, chunk: opts.chunk, seed: opts.backboneSeed,
  });
  const { tf, backend } = await initTf(opts.tfBackend);
  let net: SideNetwork | null = null;
  const optimizer = new AdamW({ weightDecay: opts.weightDecay });
  try {
    if (previous && previous.backbone.digest !== backbone.digest) {
      throw new LosaError(`${runDir}: the backbone (config, weights, pooling or layers) differs from the one this run was trained with`);
    }
    const sideConfig = defaultSideConfig(
      { numFrames: opts.numFrames, numLayers: backbone.layers.length, tokens: backbone.tokens, width: backbone.width, numClasses: classes.length },
      { kind: opts.side, rank: opts.rank, temporalRank: opts.temporalRank, spatialRank: opts.spatialRank },
    );
    net = createSideNetwork(sideConfig, opts.seed);

    // Clips per side-network call: the backward keeps activations per clip, so a budget bounds
    // the side network's memory whatever the batch size (the batch's gradient is accumulated).
    const sideClips = sideClipsPerCall(sideConfig, opts.batchSize, opts.sideBatch);
    const batchesPerEpoch = Math.ceil(trainSet.items.length / opts.batchSize);
    const stepsPerEpoch = Math.ceil(batchesPerEpoch / opts.accumulate);
    const totalSteps = opts.epochs * stepsPerEpoch;
    const schedule = { baseLr: opts.lr, warmupSteps: opts.warmupEpochs * stepsPerEpoch, totalSteps };

    let point: ResumePoint = { epoch: 0, stepInEpoch: 0, position: 0, step: 0, optimizerStep: 0 };
    let metrics: MetricsRecord[] = [];
    if (previous) {
      const ckpt = await readCheckpoint(path.join(runDir, RUN_FILES.last));
      if (!ckpt.point) throw new LosaError(`${path.join(runDir, RUN_FILES.last)}: not a resumable checkpoint`);
      setSideWeights(net, ckpt.weights);
      optimizer.setState({ step: ckpt.point.optimizerStep, tensors: ckpt.optimizer });
      point = ckpt.point;
      // Records of epochs after the checkpoint (a kill between metrics and checkpoint) are dropped.
      metrics = (await readMetrics(runDir)).filter((r) => r.epoch <= point.epoch);
      await writeMetrics(runDir, metrics);
    }

    const manifest: RunManifest = previous ?? {
      format: 'losa-run',
      version: 1,
      classes,
      backbone: {
        name: backbone.name, config: { ...config }, weights: weights ? path.resolve(weights) : null, digest: backbone.digest,
        pool: opts.pool, layers: opts.layers, seed: opts.backboneSeed, params: backbone.params,
      },
      sampling: { numFrames: opts.numFrames, size: config.imageSize, sampling: opts.sampling, stride: opts.stride, flip: opts.flip, scale: opts.scale, ratio: opts.ratio },
      side: { ...sideConfig },
      training: { ...opts, out: runDir },
      data: { source: path.resolve(opts.data), trainClips: trainSet.items.length, valClips: valSet?.items.length ?? 0 },
      progress: { epoch: 0, step: 0, bestTop1: null, bestEpoch: null, finished: false },
      createdAt: new Date().toISOString(),
      updatedAt: '',
    };
    manifest.progress.finished = false;
    await writeManifest(runDir, manifest);

    const cacheDir = chooseCache(opts, trainSet.items.length, valSet?.items.length ?? 0, backbone, emit);
    const cache = cacheDir ? new FeatureCache(cacheDir, backbone.digest, opts.cacheDtype) : undefined;
    const skipped = new Map<string, string>();
    const onSkip = (item: DatasetItem, reason: string): void => {
      if (skipped.has(item.path)) return;
      skipped.set(item.path, reason);
      emit({ type: 'skip', path: item.path, reason, skipped: skipped.size });
      void appendLog(runDir, `skipped: ${item.path}: ${reason}`);
    };
    const runInfo: RunInfo = {
      command: 'train',
      backbone: { name: backbone.name, params: backbone.params, randomWeights: backbone.randomWeights, weights, device: backbone.device, chunk: backbone.chunk },
      side: { kind: opts.side, params: net.paramCount(), tfBackend: backend },
      data: {
        root: opts.data, classes, trainClips: trainSet.items.length, valClips: valSet?.items.length ?? 0,
        missing: trainSet.problems.length + (valSet?.problems.length ?? 0),
      },
      epochs: opts.epochs, stepsPerEpoch, batchSize: opts.batchSize, numFrames: opts.numFrames, outDir: runDir, cache: cacheDir,
      resumedFrom: previous ? { epoch: point.epoch + 1, stepInEpoch: point.stepInEpoch, step: point.step } : undefined,
    };
    emit({ type: 'start', run: runInfo });

    const summaries: EpochSummary[] = [];
    let bestTop1 = manifest.progress.bestTop1;
    let step = point.step;
    const files = new Set<string>([runDir]);
    const checkpoint = async (epoch: number, stepInEpoch: number, position: number): Promise<void> => {
      const file = await saveLastCheckpoint(runDir, getSideWeights(net!), optimizer.getState(), {
        epoch, stepInEpoch, position, step, optimizerStep: optimizer.step,
      });
      manifest.progress.epoch = epoch;
      manifest.progress.step = step;
      await writeManifest(runDir, manifest);
      emit({ type: 'checkpoint', path: file, kind: 'last' });
    };

    for (let epoch = point.epoch; epoch < opts.epochs; epoch++) {
      const epochStarted = performance.now();
      const firstStep = epoch === point.epoch ? point.stepInEpoch : 0;
      const firstPosition = epoch === point.epoch ? point.position : 0;
      const order = createRng(`${opts.seed}/shuffle/${epoch}`).shuffle(trainSet.items.map((_, i) => i));
      // Videos in epoch order from the resume point, each with its position in the order: a
      // checkpoint records how far the epoch got, skipped videos included.
      const todo = order.slice(firstPosition).map((i, k) => ({ ...trainSet.items[i]!, position: firstPosition + k }))
        .filter((it) => !skipped.has(it.path));
      let position = firstPosition; // videos of the order consumed by applied steps
      const fromCacheBefore = cache?.stats.hits ?? 0;
      const missesBefore = cache ? cache.stats.misses + cache.stats.damaged : 0;
      emit({ type: 'epoch-start', epoch: epoch + 1, epochs: opts.epochs, steps: stepsPerEpoch, fromCache: false });

      const plan = (item: DatasetItem & { position: number }): ViewPlan => {
        const view = cache ? epoch % opts.cacheViews : 0;
        return {
          clip: {
            numFrames: opts.numFrames, size: config.imageSize, mode: 'train', sampling: opts.sampling, stride: opts.stride,
            flip: opts.flip, scale: opts.scale, ratio: opts.ratio,
          },
          seed: cache ? `${opts.seed}/view/${view}/${item.path}` : `${opts.seed}/epoch/${epoch}/${item.path}`,
        };
      };
      const accumulator = new GradientAccumulator();
      let accumulated = 0;
      let microBatches = 0;
      let stepInEpoch = firstStep;
      let lossSum = 0, correctSum = 0, top5Sum = 0, seen = 0;
      let clipsDone = 0;
      const time = { decodeMs: 0, backboneMs: 0, sideMs: 0 };
      let stopped = false;
      try {
        for await (const batch of featureBatches<(typeof todo)[number]>(todo, {
          backbone, numFrames: opts.numFrames, batchSize: opts.batchSize, concurrency: opts.workers, cache, plan, onSkip, signal,
        })) {
          const sideStarted = performance.now();
          const b = batch.items.length;
          const { loss, correct, correctTop5 } = accumulateGradients(tf, net, batch.features, batch.items.map((it) => it.label), {
            clipsPerCall: sideClips, smoothing: opts.labelSmoothing, accumulator,
          });
          if (!Number.isFinite(loss)) {
            throw new LosaError(
              `loss became ${loss} at step ${step + 1} (epoch ${epoch + 1}); stopped, the last good checkpoint is kept in ${path.join(runDir, RUN_FILES.last)}`,
            );
          }
          accumulated += b;
          microBatches++;
          const consumed = batch.items[b - 1]!.position + 1;
          lossSum += loss * b;
          correctSum += correct;
          top5Sum += correctTop5;
          seen += b;
          let applied = false;
          const lr = learningRateAt(step, schedule);
          if (microBatches % opts.accumulate === 0) {
            applyAccumulated(tf, accumulator, accumulated, optimizer, net, lr);
            accumulated = 0;
            step++;
            stepInEpoch++;
            position = consumed;
            applied = true;
          }
          const sideMs = performance.now() - sideStarted;
          clipsDone += b;
          time.decodeMs += batch.decodeMs;
          time.backboneMs += batch.backboneMs;
          time.sideMs += sideMs;
          if (applied) {
            const mem = tf.memory();
            emit({
              type: 'step', epoch: epoch + 1, step, totalSteps, stepInEpoch, stepsInEpoch: stepsPerEpoch,
              loss, accuracy: correct / b, lr,
              clipsPerSecond: clipsDone / ((performance.now() - epochStarted) / 1000),
              time: { decodeMs: time.decodeMs / clipsDone, backboneMs: time.backboneMs / clipsDone, sideMs: time.sideMs / clipsDone },
              memory: { rssBytes: process.memoryUsage().rss, tensors: mem.numTensors },
            });
            if (signal.aborted) {
              stopped = true;
              break;
            }
          }
        }
        if (!stopped && accumulated > 0) {
          // The epoch's last, partial accumulation still counts as a step.
          applyAccumulated(tf, accumulator, accumulated, optimizer, net, learningRateAt(step, schedule));
          step++;
          stepInEpoch++;
        }
      } finally {
        accumulator.dispose();
      }
      if (stopped || signal.aborted) {
        await checkpoint(epoch, stepInEpoch, position);
        files.add(path.join(runDir, RUN_FILES.last));
        const seconds = (performance.now() - started) / 1000;
        emit({ type: 'end', status: 'stopped', seconds, bestTop1: bestTop1 ?? undefined, files: [...files], message: `stopped at step ${step}; resume with --resume` });
        return { status: 'stopped', runDir, epochs: summaries, bestTop1, skipped, files: [...files] };
      }
      if (seen === 0) throw new LosaError(`${opts.data}: every training video was skipped (${skipped.size}); see ${path.join(runDir, RUN_FILES.log)}`);

      const fromCache = cache !== undefined && cache.stats.misses + cache.stats.damaged === missesBefore && cache.stats.hits > fromCacheBefore;
      const lr = learningRateAt(Math.max(step - 1, 0), schedule);
      const trainRecord: MetricsRecord = {
        epoch: epoch + 1, split: 'train', loss: lossSum / seen, top1: correctSum / seen, top5: top5Sum / seen, step, lr,
        seconds: (performance.now() - epochStarted) / 1000, fromCache,
      };
      let val: EpochSummary['val'];
      if (valSet && valSet.items.length > 0) {
        const result = await evaluateFeatures(net, valSet.items, classes, {
          backbone, numFrames: opts.numFrames, batchSize: opts.batchSize, concurrency: opts.workers, cache, onSkip, signal,
          clip: { numFrames: opts.numFrames, size: config.imageSize, mode: 'test', stride: opts.stride, views: opts.valViews, crops: opts.valCrops },
          seed: `${opts.seed}/val`,
          onProgress: (done, total) => emit({ type: 'validate', epoch: epoch + 1, done, total }),
        });
        val = { loss: result.loss, top1: result.top1, top5: result.top5 };
      }
      const seconds = (performance.now() - epochStarted) / 1000;
      trainRecord.seconds = seconds;
      metrics.push(trainRecord);
      await appendMetrics(runDir, trainRecord);
      if (val) {
        const record: MetricsRecord = { epoch: epoch + 1, split: opts.valSplit, loss: val.loss, top1: val.top1, top5: val.top5, step };
        metrics.push(record);
        await appendMetrics(runDir, record);
      }
      // Best by validation top-1; without a validation split, the latest epoch is the best we know.
      const score = val ? val.top1 : null;
      const best = score === null || bestTop1 === null || score > bestTop1;
      if (best) {
        bestTop1 = score ?? bestTop1;
        manifest.progress.bestTop1 = bestTop1;
        manifest.progress.bestEpoch = epoch + 1;
        const file = await saveBestWeights(runDir, getSideWeights(net), epoch + 1, score ?? Number.NaN);
        files.add(file);
        emit({ type: 'checkpoint', path: file, kind: 'best' });
      }
      await checkpoint(epoch + 1, 0, 0);
      files.add(path.join(runDir, RUN_FILES.last));
      const summary: EpochSummary = {
        epoch: epoch + 1, trainLoss: trainRecord.loss, trainTop1: trainRecord.top1, val, seconds, fromCache, lr, best,
      };
      summaries.push(summary);
      emit({ type: 'epoch-end', summary });
      for (const f of (await hooks.afterEpoch?.(runDir, metrics)) ?? []) files.add(f);
    }
    manifest.progress.finished = true;
    await writeManifest(runDir, manifest);
    files.add(path.join(runDir, RUN_FILES.metrics));
    const seconds = (performance.now() - started) / 1000;
    emit({ type: 'end', status: 'done', seconds, bestTop1: bestTop1 ?? undefined, files: [...files] });
    return { status: 'done', runDir, epochs: summaries, bestTop1, skipped, files: [...files] };
  } finally {
    net?.dispose();
    optimizer.dispose();
    await backbone.dispose();
  }
}

/**
 * Bytes the side network's training step holds per clip (wasm heap, measured: about 58 per
 * feature value for D = 192 and 768), with a margin.
 */
export function sideBytesPerClip(c: { numFrames: number; numLayers: number; tokens: number; width: number }): number {
  return 64 * c.numFrames * c.numLayers * c.tokens * c.width;
}

/** The side network's activation budget per call (see sideBytesPerClip). */
export const SIDE_MEMORY_BYTES = 32 * 2 ** 20;

/** Clips per side-network call: `sideBatch` when given, else what fits SIDE_MEMORY_BYTES; at most the batch. */
export function sideClipsPerCall(c: Parameters<typeof sideBytesPerClip>[0], batchSize: number, sideBatch?: number): number {
  return Math.max(1, Math.min(batchSize, sideBatch ?? Math.floor(SIDE_MEMORY_BYTES / sideBytesPerClip(c))));
}

/**
 * Gradients of one batch, in calls of at most `clipsPerCall` clips, added to the accumulator
 * weighted by their clip counts. Returns the batch's mean loss and its hit counts; a non-finite
 * loss returns at once (nothing more is accumulated).
 */
export function accumulateGradients(
  tf: Awaited<ReturnType<typeof initTf>>['tf'],
  net: SideNetwork,
  features: Float32Array, // [B, T, L, P, D]
  labels: number[],
  o: { clipsPerCall: number; smoothing: number; accumulator: GradientAccumulator },
): { loss: number; correct: number; correctTop5: number } {
  const perClip = features.length / labels.length;
  let lossSum = 0, correct = 0, correctTop5 = 0;
  for (let first = 0; first < labels.length; first += o.clipsPerCall) {
    const part = labels.slice(first, first + o.clipsPerCall);
    const y = tf.tensor1d(part, 'int32');
    const r = computeGradients(net, features.subarray(first * perClip, (first + part.length) * perClip), y, o.smoothing);
    y.dispose();
    if (Number.isFinite(r.loss)) o.accumulator.add(r.grads, part.length);
    for (const g of r.grads.values()) g.dispose();
    if (!Number.isFinite(r.loss)) return { loss: r.loss, correct, correctTop5 };
    lossSum += r.loss * part.length;
    correct += r.correct;
    correctTop5 += r.correctTop5;
  }
  return { loss: lossSum / labels.length, correct, correctTop5 };
}

/** One AdamW step with the mean of the accumulated gradients (Σ weight·grad / total). */
export function applyAccumulated(
  tf: Awaited<ReturnType<typeof initTf>>['tf'],
  accumulator: GradientAccumulator,
  total: number,
  optimizer: AdamW,
  net: SideNetwork,
  lr: number,
): void {
  const summed = accumulator.take(); // Σ_b b·grad_b
  const mean = new Map<string, import('@tensorflow/tfjs').Tensor>();
  for (const [name, g] of summed) {
    mean.set(name, tf.mul(g, 1 / total));
    g.dispose();
  }
  optimizer.apply(net.variables, mean, lr, (name) => net.decayMask(name));
  for (const g of mean.values()) g.dispose();
}

/** The cache folder to use, resolving 'auto' by the size the data set's features would take. */
function chooseCache(opts: TrainOptions, trainClips: number, valClips: number, backbone: Backbone, emit: EventSink): string | undefined {
  if (opts.cache !== 'auto') return opts.cache ? path.resolve(opts.cache) : undefined;
  const views = trainClips * opts.cacheViews + valClips * opts.valViews * opts.valCrops;
  const bytes = views * clipFeatureSize(backbone, opts.numFrames) * (opts.cacheDtype === 'F16' ? 2 : 4);
  if (bytes > AUTO_CACHE_BYTES) {
    emit({ type: 'log', level: 'info', message: `feature cache off: it would take ${formatBytes(bytes)}; pass --cache DIR to use one anyway` });
    return undefined;
  }
  return defaultCacheDir();
}

async function openValidation(opts: TrainOptions, classes: string[], emit: EventSink): Promise<Dataset | null> {
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

export type { Backbone };
