// Sampling rules, as tables: temporal (segment, window, test views) and spatial (test crops,
// random resized crops). Expected values are written out by hand or computed plainly here.
import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../src/random.js';
import {
  frameTimestamps, resolveStride, sampleFrameIndices, sampleSegments, sampleTestViews, sampleWindow, scaledSize, testCrops, trainCrop,
} from '../src/video/sampling.js';

/** An Rng whose next() returns the given values in turn (int/uniform derived from them). */
function scripted(values: number[]): Rng {
  let k = 0;
  const rng: Rng = {
    next: () => values[k++ % values.length]!,
    int: (n) => Math.floor(rng.next() * n),
    uniform: (lo, hi) => lo + (hi - lo) * rng.next(),
    normal: () => 0,
    fork: () => rng,
    shuffle: (items) => items,
  };
  return rng;
}

describe('test views (deterministic)', () => {
  const cases: { n: number; t: number; v: number; stride: number | 'auto'; want: number[][] }[] = [
    // auto stride: segment centres, one view spans the video
    { n: 80, t: 8, v: 1, stride: 'auto', want: [[5, 15, 25, 35, 45, 55, 65, 75]] },
    { n: 30, t: 4, v: 1, stride: 'auto', want: [[3, 11, 18, 26]] },
    // two views interleave at 1/4 and 3/4 of each segment
    { n: 80, t: 8, v: 2, stride: 'auto', want: [[2, 12, 22, 32, 42, 52, 62, 72], [7, 17, 27, 37, 47, 57, 67, 77]] },
    // exactly T frames: every frame once
    { n: 8, t: 8, v: 1, stride: 'auto', want: [[0, 1, 2, 3, 4, 5, 6, 7]] },
    // shorter than a clip: frames in order, then the last one repeated
    { n: 3, t: 8, v: 2, stride: 'auto', want: [[0, 1, 2, 2, 2, 2, 2, 2], [0, 1, 2, 2, 2, 2, 2, 2]] },
    { n: 1, t: 4, v: 1, stride: 2, want: [[0, 0, 0, 0]] },
    // fixed stride: one view centred, span (T-1)*s+1 = 15, room 5 → start 2
    { n: 20, t: 8, v: 1, stride: 2, want: [[2, 4, 6, 8, 10, 12, 14, 16]] },
    // three views from the first to the last possible start: 0, 2.5→3 (round), 5
    { n: 20, t: 8, v: 3, stride: 2, want: [[0, 2, 4, 6, 8, 10, 12, 14], [3, 5, 7, 9, 11, 13, 15, 17], [5, 7, 9, 11, 13, 15, 17, 19]] },
    // a window longer than the video: start 0, last frame repeated
    { n: 10, t: 4, v: 2, stride: 4, want: [[0, 4, 8, 9], [0, 4, 8, 9]] },
  ];
  it.each(cases)('N=$n T=$t V=$v stride=$stride', ({ n, t, v, stride, want }) => {
    expect(sampleTestViews(n, t, v, stride)).toEqual(want);
    expect(sampleFrameIndices(n, { numFrames: t, mode: 'test', views: v, stride }, createRng(0))).toEqual(want);
  });

  it('keeps every view inside the video and every view the same stride', () => {
    for (const n of [9, 17, 31, 100, 301]) {
      for (const v of [1, 2, 5]) {
        const views = sampleTestViews(n, 8, v, 3);
        for (const view of views) {
          expect(Math.min(...view)).toBeGreaterThanOrEqual(0);
          expect(Math.max(...view)).toBeLessThan(n);
          if (n >= 22) expect(view.slice(1).map((x, i) => x - view[i]!)).toEqual(new Array(7).fill(3));
        }
      }
    }
  });
});

describe('training: segment sampling (TSN)', () => {
  const cases: { n: number; t: number; draws: number[]; want: number[] }[] = [
    // segments of 10 frames; draw u puts the frame at floor(10i + 10u)
    { n: 80, t: 8, draws: [0], want: [0, 10, 20, 30, 40, 50, 60, 70] },
    { n: 80, t: 8, draws: [0.999], want: [9, 19, 29, 39, 49, 59, 69, 79] },
    { n: 80, t: 8, draws: [0.5, 0.05], want: [5, 10, 25, 30, 45, 50, 65, 70] },
    // segments of 2.5 frames
    { n: 10, t: 4, draws: [0], want: [0, 2, 5, 7] },
    { n: 10, t: 4, draws: [0.99], want: [2, 4, 7, 9] },
    // short video: in order, last repeated, no draws needed
    { n: 5, t: 8, draws: [0.7], want: [0, 1, 2, 3, 4, 4, 4, 4] },
  ];
  it.each(cases)('N=$n T=$t draws=$draws', ({ n, t, draws, want }) => {
    expect(sampleSegments(n, t, scripted(draws))).toEqual(want);
  });

  it('draws one frame from each segment, every frame reachable', () => {
    const rng = createRng('segments');
    const seen = new Set<number>();
    const outside: number[] = [];
    for (let k = 0; k < 1000; k++) {
      sampleSegments(37, 8, rng).forEach((x, i) => {
        if (x < Math.floor((i * 37) / 8) || x >= Math.ceil(((i + 1) * 37) / 8)) outside.push(x);
        seen.add(x);
      });
    }
    expect(outside).toEqual([]);
    expect(seen.size).toBe(37);
  });
});

describe('training: random window', () => {
  const cases: { n: number; t: number; stride: number | 'auto'; draw: number; want: number[] }[] = [
    // span 15, starts 0..85 (86 choices); draw 0 → 0, draw 0.5 → 43
    { n: 100, t: 8, stride: 2, draw: 0, want: [0, 2, 4, 6, 8, 10, 12, 14] },
    { n: 100, t: 8, stride: 2, draw: 0.5, want: [43, 45, 47, 49, 51, 53, 55, 57] },
    { n: 100, t: 8, stride: 2, draw: 0.9999, want: [85, 87, 89, 91, 93, 95, 97, 99] },
    // auto stride = floor(100/8) = 12, span 85, starts 0..15
    { n: 100, t: 8, stride: 'auto', draw: 0.5, want: [8, 20, 32, 44, 56, 68, 80, 92] },
    // window longer than the video
    { n: 6, t: 4, stride: 3, draw: 0.7, want: [0, 3, 5, 5] },
  ];
  it.each(cases)('N=$n T=$t stride=$stride draw=$draw', ({ n, t, stride, draw, want }) => {
    expect(sampleWindow(n, t, stride, scripted([draw]))).toEqual(want);
    expect(sampleFrameIndices(n, { numFrames: t, mode: 'train', sampling: 'window', stride }, scripted([draw]))).toEqual([want]);
  });

  it('resolves auto strides', () => {
    expect(resolveStride(100, 8)).toBe(12);
    expect(resolveStride(5, 8)).toBe(1);
    expect(resolveStride(100, 8, 3)).toBe(3);
    expect(() => resolveStride(100, 8, 0)).toThrow(/stride/);
  });
});

describe('timestamps and sizes', () => {
  it('timestamps are index / fps', () => {
    expect(frameTimestamps([0, 15, 30], 15)).toEqual([0, 1, 2]);
    expect(frameTimestamps([3], 29.97)[0]).toBeCloseTo(3 / 29.97, 12);
  });
  const sizes: [number, number, number, { width: number; height: number }][] = [
    [1280, 720, 224, { width: 398, height: 224 }],
    [720, 1280, 224, { width: 224, height: 398 }],
    [160, 120, 224, { width: 299, height: 224 }],
    [63, 47, 32, { width: 43, height: 32 }],
    [100, 100, 50, { width: 50, height: 50 }],
  ];
  it.each(sizes)('%i×%i short side → %i', (w, h, s, want) => {
    expect(scaledSize(w, h, s)).toEqual(want);
  });
});

describe('spatial crops', () => {
  const cases: { w: number; h: number; s: number; crops: 1 | 3; want: [number, number][] }[] = [
    { w: 398, h: 224, s: 224, crops: 1, want: [[87, 0]] },
    { w: 398, h: 224, s: 224, crops: 3, want: [[0, 0], [87, 0], [174, 0]] },
    { w: 224, h: 398, s: 224, crops: 3, want: [[0, 0], [0, 87], [0, 174]] },
    { w: 224, h: 224, s: 224, crops: 3, want: [[0, 0], [0, 0], [0, 0]] },
    { w: 101, h: 96, s: 96, crops: 3, want: [[0, 0], [2, 0], [5, 0]] },
  ];
  it.each(cases)('$w×$h, $crops crop(s) of $s', ({ w, h, s, crops, want }) => {
    const boxes = testCrops(w, h, s, crops);
    expect(boxes.map((b) => [b.x, b.y])).toEqual(want);
    for (const b of boxes) expect([b.width, b.height]).toEqual([s, s]);
  });

  it('random resized crops stay inside the frame with area and ratio in range', () => {
    const rng = createRng('crops');
    for (let k = 0; k < 500; k++) {
      const [w, h] = [[320, 240], [1280, 720], [90, 160]][k % 3]!;
      const box = trainCrop(w, h, rng, [0.3, 0.9], [0.75, 1.3333]);
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(w);
      expect(box.y + box.height).toBeLessThanOrEqual(h);
      const area = (box.width * box.height) / (w * h);
      // rounding to whole pixels moves area and ratio slightly
      expect(area).toBeGreaterThan(0.28);
      expect(area).toBeLessThan(0.92);
      expect(box.width / box.height).toBeGreaterThan(0.72);
      expect(box.width / box.height).toBeLessThan(1.38);
    }
  });

  it('falls back to a centre crop of the allowed ratio when no random crop fits', () => {
    // A 1000×10 strip cannot hold a crop of ratio ≤ 4/3 with half its area: centre 13×10.
    const box = trainCrop(1000, 10, createRng(1), [0.5, 1], [0.75, 4 / 3]);
    expect(box).toEqual({ x: 493, y: 0, width: 13, height: 10 });
  });

  it('is deterministic for a seed', () => {
    const a = [trainCrop(320, 240, createRng(5)), sampleSegments(100, 8, createRng(5))];
    const b = [trainCrop(320, 240, createRng(5)), sampleSegments(100, 8, createRng(5))];
    expect(a).toEqual(b);
  });
});
