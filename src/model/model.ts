// The model object: a trained run loaded for inference, as tfjs-models do it (`load()`, then
// `classify()`). loadModel(runDir) brings up the frozen backbone the run was trained on
// (checked by digest) and its side network with the best (or last) weights; predict() and
// classify() take any number of inputs (an array or an async iterable of video or image files,
// or decoded rgb24 clips) and stream one result per input, in input order. Sampling, cropping
// and normalisation happen inside, exactly as at validation time. `losa eval` and
// `losa classify` are thin commands over it.
import path from 'node:path';
import type { Backbone } from '../backbone/index.js';
import { DEFAULT_WORKERS, FeatureCache, mapItems, type PipelineItem } from '../features/index.js';
import { createSideNetwork, initTf, setSideWeights, type SideNetwork, type TfBackendPreference } from '../side/index.js';
import { rankClasses } from './metrics.js';
import { predictItems, type PredictProgress, type Predictor } from './predict.js';
import { readRunManifest, readSideWeights, runWeightsFile, type RunCheckpoint, type RunManifest } from './run.js';
import { loadRunBackbone, runTestPlan, type RunBackboneOptions, type TestViews } from './view.js';

/** Videos (or images) per batch: one side-network call each. */
export const DEFAULT_BATCH_SIZE = 8;
/** Labels classify() reports per input. */
export const DEFAULT_TOP = 3;

export interface LoadModelOptions extends RunBackboneOptions {
  /** Which weights: 'best' (default; the last checkpoint when there is no best) or 'last'. */
  checkpoint?: RunCheckpoint;
  /** TensorFlow.js backend (default: LOSA_TF_BACKEND, else tensorflow, wasm, cpu). */
  tfBackend?: TfBackendPreference;
  /** Inputs per batch (default DEFAULT_BATCH_SIZE). */
  batchSize?: number;
  /** Concurrent decoders (default DEFAULT_WORKERS). */
  workers?: number;
  /** A feature cache folder (shared with `losa train --cache`). */
  cache?: string;
}

/**
 * An input: a video or image file (a path, or any object with a `path`, handed back as given),
 * or a decoded clip `{ frames, name? }`: rgb24 bytes [T, S, S, 3] with the model's `numFrames`
 * and `imageSize`, already cropped (normalisation happens inside).
 */
export type ModelInput = string | { path: string } | { frames: Uint8Array; name?: string };

export interface Prediction<I> {
  input: I;
  /** Position of the input in the inputs. */
  index: number;
  /** Mean softmax over the input's views, one entry per class (in `classes` order). */
  probabilities: Float64Array;
  /** Views averaged: V temporal clips × C crops (1 for a decoded clip). */
  views: number;
  error?: undefined;
}

/** An input that could not be read; the others go on. */
export interface Failure<I> {
  input: I;
  index: number;
  /** One line naming the input and what is wrong with it. */
  error: string;
  probabilities?: undefined;
}

export interface Classification<I> extends Prediction<I> {
  /** The most probable classes, most probable first. */
  top: { label: string; probability: number }[];
}

export type PredictOptions = TestViews & PredictProgress;

export interface LosaModel {
  readonly runDir: string;
  readonly manifest: RunManifest;
  readonly classes: string[];
  /** Frames per clip and their side in pixels, as a decoded-clip input must have them. */
  readonly numFrames: number;
  readonly imageSize: number;
  /** The side-network weights in use (best.safetensors or last.safetensors). */
  readonly weightsFile: string;
  readonly backbone: Pick<Backbone, 'name' | 'params' | 'randomWeights' | 'weightsFile' | 'digest' | 'device' | 'chunk'>;
  /** TensorFlow.js backend of the side network. */
  readonly tfBackend: string;
  /** Per input, in input order: the mean softmax over V views × C crops, or the input's error. */
  predict<I extends ModelInput>(inputs: Iterable<I> | AsyncIterable<I>, options?: PredictOptions): AsyncGenerator<Prediction<I> | Failure<I>>;
  /** predict() with the `top` (default DEFAULT_TOP) labels of each input ranked. */
  classify<I extends ModelInput>(
    inputs: Iterable<I> | AsyncIterable<I>, options?: PredictOptions & { top?: number },
  ): AsyncGenerator<Classification<I> | Failure<I>>;
  /** Ends the backbone process and frees the side network. */
  dispose(): Promise<void>;
}

interface Item<I> extends PipelineItem {
  input: I;
  index: number;
}

export async function loadModel(runDir: string, options: LoadModelOptions = {}): Promise<LosaModel> {
  const dir = path.resolve(runDir);
  const manifest = await readRunManifest(dir);
  const weightsFile = await runWeightsFile(dir, options.checkpoint);
  const backbone = await loadRunBackbone(manifest, dir, options);
  let net: SideNetwork | undefined;
  try {
    const { backend } = await initTf(options.tfBackend);
    net = createSideNetwork(manifest.side, 0);
    setSideWeights(net, await readSideWeights(weightsFile));
    return modelObject({ runDir: dir, manifest, weightsFile, backbone, net, tfBackend: backend }, options);
  } catch (error) {
    net?.dispose();
    await backbone.dispose();
    throw error;
  }
}

interface Loaded {
  runDir: string;
  manifest: RunManifest;
  weightsFile: string;
  backbone: Backbone;
  net: SideNetwork;
  tfBackend: string;
}

function modelObject(m: Loaded, options: LoadModelOptions): LosaModel {
  const { manifest, backbone, net } = m;
  const cache = options.cache ? new FeatureCache(path.resolve(options.cache), backbone.digest) : undefined;
  const predictor = (views: TestViews): Predictor => ({
    backbone, net, plan: runTestPlan(manifest, views), batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
    workers: options.workers ?? DEFAULT_WORKERS, cache,
  });
  async function* predict<I extends ModelInput>(inputs: Iterable<I> | AsyncIterable<I>, o: PredictOptions = {}): AsyncGenerator<Prediction<I> | Failure<I>> {
    for await (const r of predictItems(predictor(o), mapItems(inputs, toItem), o)) {
      const { input, index } = r.item;
      yield r.error !== undefined ? { input, index, error: r.error } : { input, index, probabilities: r.probabilities, views: r.views };
    }
  }
  let disposed = false;
  return {
    runDir: m.runDir, manifest, classes: manifest.classes, numFrames: manifest.sampling.numFrames, imageSize: manifest.sampling.size,
    weightsFile: m.weightsFile, backbone, tfBackend: m.tfBackend,
    predict,
    async *classify(inputs, o = {}) {
      for await (const r of predict(inputs, o)) {
        if (r.error !== undefined) yield r;
        else yield { ...r, top: topLabels(manifest.classes, r.probabilities, o.top ?? DEFAULT_TOP) };
      }
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      net.dispose();
      await backbone.dispose();
    },
  };
}

/** An input as a pipeline item that remembers it. */
function toItem<I extends ModelInput>(input: I, index: number): Item<I> {
  const given: ModelInput = input;
  if (typeof given === 'string') return { path: given, label: -1, input, index };
  if ('frames' in given) return { path: given.name ?? `frames #${index}`, label: -1, frames: given.frames, input, index };
  return { path: given.path, label: -1, input, index };
}

/** The `top` most probable classes with their probabilities. */
export function topLabels(classes: string[], probabilities: Float64Array, top: number): { label: string; probability: number }[] {
  return rankClasses(probabilities).slice(0, top).map((k) => ({ label: classes[k]!, probability: probabilities[k]! }));
}
