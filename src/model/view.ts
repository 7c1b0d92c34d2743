// A trained run's test-time view, defined once: the frozen backbone it was trained on (config,
// weights, pooling, layers, checked by digest) and how a clip is sampled for testing (frames,
// image size, stride; V temporal views × C spatial crops). Validation, `eval`, `classify`,
// `losa features --checkpoint` and the model object all take it from here, so they see the same
// clips and the same features.
import { loadBackbone, type Backbone, type BackboneOptions } from '../backbone/index.js';
import { LosaError } from '../errors.js';
import { exists } from '../fsutil.js';
import type { ViewPlan } from '../features/index.js';
import { DEFAULT_CROPS, DEFAULT_VIEWS, type Stride } from '../video/index.js';
import type { RunManifest } from './run.js';

/** What the test transform needs of a run (or of `losa features` flags). */
export interface TestSampling {
  numFrames: number;
  size: number;
  stride: Stride;
}

export interface TestViews {
  /** Temporal clips per video (default DEFAULT_VIEWS). */
  views?: number;
  /** Spatial crops per clip: 1 (centre) or 3 (start, centre, end) (default DEFAULT_CROPS). */
  crops?: 1 | 3;
}

/**
 * The deterministic test sampling of V views × C crops. Its seed draws nothing (test sampling
 * has no random choice); it is part of the feature cache key, so it is the one validation uses.
 */
export function testPlan(sampling: TestSampling, views: TestViews, seed: string): ViewPlan {
  return {
    clip: {
      numFrames: sampling.numFrames, size: sampling.size, mode: 'test', stride: sampling.stride,
      views: views.views ?? DEFAULT_VIEWS, crops: views.crops ?? DEFAULT_CROPS,
    },
    seed,
  };
}

/** The seed of a run's test views: its validation's, so eval shares validation's cache entries. */
export function validationSeed(runSeed: number): string {
  return `${runSeed}/val`;
}

/** A run's test plan. */
export function runTestPlan(manifest: RunManifest, views: TestViews = {}): ViewPlan {
  return testPlan(manifest.sampling, views, validationSeed(manifest.training.seed));
}

export interface RunBackboneOptions {
  device?: 'cpu' | 'cuda';
  /** Frames per backbone run. */
  chunk?: number;
  /** Backbone memory budget in bytes (sets the chunk). */
  memoryBudget?: number;
  /** The backbone weights file, when it has moved since training (checked by digest). */
  weights?: string;
}

/** Loads the run's frozen backbone and checks it is the one the run was trained with. */
export async function loadRunBackbone(manifest: RunManifest, runDir: string, options: RunBackboneOptions = {}): Promise<Backbone> {
  const weights = options.weights ?? manifest.backbone.weights ?? undefined;
  if (weights && !(await exists(weights))) {
    throw new LosaError(`${weights}: backbone weights of this run not found; pass --weights with their new place`);
  }
  const backboneOptions: BackboneOptions = {
    config: manifest.backbone.config, weights, pool: manifest.backbone.pool, layers: manifest.backbone.layers, seed: manifest.backbone.seed,
    device: options.device, chunk: options.chunk, memoryBudget: options.memoryBudget,
  };
  const backbone = await loadBackbone(backboneOptions);
  if (backbone.digest !== manifest.backbone.digest) {
    await backbone.dispose();
    throw new LosaError(`${weights ?? 'random weights'}: this backbone differs from the one the run in ${runDir} was trained with (digest mismatch)`);
  }
  return backbone;
}
