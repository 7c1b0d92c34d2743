// The side network's part of a training step: the batch's gradient in memory-bounded calls,
// accumulated (over calls, and over --accumulate batches), then one AdamW update.
import type { Tensor } from '@tensorflow/tfjs-core';
import { accumulateGradient, type AdamW, type GradientAccumulator, type SideNetwork, type TfHandle } from '../side/index.js';

/**
 * Bytes the side network's training step holds per clip (wasm heap, measured: about 58 per
 * feature value for D = 192 and 768), with a margin.
 */
export function sideBytesPerClip(c: { numFrames: number; numLayers: number; tokens: number; width: number }): number {
  return 64 * c.numFrames * c.numLayers * c.tokens * c.width;
}

/** The side network's activation budget per call (see sideBytesPerClip). */
export const SIDE_MEMORY_BYTES = 32 * 2 ** 20;

/**
 * Clips per side-network call: at most `sideBatch` when given, else what fits SIDE_MEMORY_BYTES;
 * a divisor of the batch size (rounded down to one), because training takes its clips in calls
 * as the pipeline delivers them (epoch.ts), and a call must not straddle two optimiser steps.
 */
export function sideClipsPerCall(c: Parameters<typeof sideBytesPerClip>[0], batchSize: number, sideBatch?: number): number {
  let n = Math.max(1, Math.min(batchSize, sideBatch ?? Math.floor(SIDE_MEMORY_BYTES / sideBytesPerClip(c))));
  while (batchSize % n !== 0) n--;
  return n;
}

/**
 * Gradients of one batch, in calls of at most `clipsPerCall` clips, added to the accumulator
 * weighted by their clip counts. Returns the batch's mean loss and its hit counts; a non-finite
 * loss returns at once (nothing more is accumulated).
 */
export function accumulateGradients(
  net: SideNetwork,
  clips: readonly Float32Array[], // B × [T, L, P, D]
  labels: number[],
  o: { clipsPerCall: number; smoothing: number; accumulator: GradientAccumulator },
): { loss: number; correct: number; correctTop5: number } {
  let lossSum = 0, correct = 0, correctTop5 = 0;
  for (let first = 0; first < labels.length; first += o.clipsPerCall) {
    const part = labels.slice(first, first + o.clipsPerCall);
    const r = accumulateGradient(net, clips.slice(first, first + part.length), part, o.smoothing, o.accumulator, part.length);
    if (!Number.isFinite(r.loss)) return { loss: r.loss, correct, correctTop5 };
    lossSum += r.loss * part.length;
    correct += r.correct;
    correctTop5 += r.correctTop5;
  }
  return { loss: lossSum / labels.length, correct, correctTop5 };
}

/** One AdamW step with the mean of the accumulated gradients (Σ weight·grad / total). */
export function applyAccumulated(
  tf: TfHandle['tf'],
  accumulator: GradientAccumulator,
  total: number,
  optimizer: AdamW,
  net: SideNetwork,
  lr: number,
): void {
  const summed = accumulator.take(); // Σ_b b·grad_b
  const mean = new Map<string, Tensor>();
  for (const [name, g] of summed) {
    mean.set(name, tf.mul(g, 1 / total));
    g.dispose();
  }
  optimizer.apply(net.variables, mean, lr, (name) => net.decayMask(name));
  for (const g of mean.values()) g.dispose();
}
