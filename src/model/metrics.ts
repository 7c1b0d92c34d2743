// Classification metrics on plain arrays: softmax, multi-view averaging, top-k, confusion.
// Kept free of TensorFlow.js so they can be checked by hand.

/** Numerically stable softmax of one row of logits. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i]! - max);
    sum += out[i]!;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** Mean of the softmax over views: the multi-view test prediction. `logits` is [V, K] row-major. */
export function meanSoftmax(logits: Float32Array, numViews: number, numClasses: number): Float64Array {
  const mean = new Float64Array(numClasses);
  for (let v = 0; v < numViews; v++) {
    const p = softmax(logits.subarray(v * numClasses, (v + 1) * numClasses));
    for (let k = 0; k < numClasses; k++) mean[k]! += p[k]! / numViews;
  }
  return mean;
}

/** Class indices by descending probability (ties: lower index first). */
export function rankClasses(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/** Accumulates predictions of a split: loss, top-1, top-5, per-class accuracy, confusion. */
export class ClassificationTally {
  readonly confusion: number[][];
  private lossSum = 0;
  private count = 0;
  private top1Hits = 0;
  private top5Hits = 0;

  constructor(readonly classes: string[]) {
    this.confusion = classes.map(() => classes.map(() => 0));
  }

  /** Add one example: its true label and its class probabilities. */
  add(label: number, probabilities: ArrayLike<number>): void {
    const ranked = rankClasses(probabilities);
    this.confusion[label]![ranked[0]!]!++;
    if (ranked[0] === label) this.top1Hits++;
    if (ranked.slice(0, 5).includes(label)) this.top5Hits++;
    this.lossSum += -Math.log(Math.max(probabilities[label]!, 1e-12));
    this.count++;
  }

  get size(): number {
    return this.count;
  }

  summary(): { count: number; loss: number; top1: number; top5: number; perClass: Record<string, number | null>; confusion: number[][] } {
    const perClass: Record<string, number | null> = {};
    this.classes.forEach((name, k) => {
      const row = this.confusion[k]!;
      const total = row.reduce((a, b) => a + b, 0);
      perClass[name] = total === 0 ? null : row[k]! / total;
    });
    const n = Math.max(this.count, 1);
    return {
      count: this.count,
      loss: this.count ? this.lossSum / n : Number.NaN,
      top1: this.top1Hits / n,
      top5: this.top5Hits / n,
      perClass,
      confusion: this.confusion.map((r) => [...r]),
    };
  }
}
