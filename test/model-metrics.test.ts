import { describe, expect, it } from 'vitest';
import { ClassificationTally, meanSoftmax, rankClasses, softmax } from '../src/model/metrics.js';

describe('metrics', () => {
  it('softmax matches the textbook formula and is stable for large logits', () => {
    const p = softmax([1, 2, 3]);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const s = e[0]! + e[1]! + e[2]!;
    e.forEach((v, i) => expect(p[i]).toBeCloseTo(v / s, 12));
    const big = softmax([1000, 1001]);
    expect(big[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
  });

  it('averages the softmax of the views, not the logits', () => {
    // Two views that disagree: mean of softmax ≠ softmax of mean logits.
    const logits = new Float32Array([4, 0, 0, 2]); // [V=2, K=2]
    const m = meanSoftmax(logits, 2, 2);
    const a = 1 / (1 + Math.exp(-4));
    const b = 1 / (1 + Math.exp(2));
    expect(m[0]).toBeCloseTo((a + b) / 2, 6);
    expect(m[0]! + m[1]!).toBeCloseTo(1, 12);
  });

  it('ranks classes with ties broken by index', () => {
    expect(rankClasses([0.1, 0.5, 0.5, 0.2])).toEqual([1, 2, 3, 0]);
  });

  it('tallies top-1, top-5, per-class accuracy, confusion and loss', () => {
    const classes = ['a', 'b', 'c', 'd', 'e', 'f'];
    const t = new ClassificationTally(classes);
    // label a, predicted a
    t.add(0, [0.5, 0.1, 0.1, 0.1, 0.1, 0.1]);
    // label b, predicted c, b second
    t.add(1, [0.0, 0.3, 0.4, 0.1, 0.1, 0.1]);
    // label f, ranked last (sixth): not in top-5
    t.add(5, [0.3, 0.25, 0.2, 0.15, 0.09, 0.01]);
    const s = t.summary();
    expect(s.count).toBe(3);
    expect(s.top1).toBeCloseTo(1 / 3, 12);
    expect(s.top5).toBeCloseTo(2 / 3, 12);
    expect(s.perClass).toEqual({ a: 1, b: 0, c: null, d: null, e: null, f: 0 });
    expect(s.confusion[1]![2]).toBe(1);
    expect(s.confusion[5]![0]).toBe(1);
    expect(s.confusion.flat().reduce((x, y) => x + y, 0)).toBe(3);
    expect(s.loss).toBeCloseTo(-(Math.log(0.5) + Math.log(0.3) + Math.log(0.01)) / 3, 12);
  });
});
