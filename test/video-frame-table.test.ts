// The frame table and segment planning, as pure functions of packets.
import { describe, expect, it } from 'vitest';
import {
  FFMPEG_SEEK_BACKOFF_SECONDS, FrameTableBuilder, frameAtTime, keyframeBefore, mergeGap, planSegments, seekSeconds,
  timeSelectExpression, type FrameTable,
} from '../src/video/frame-table.js';

/** A table of `n` frames 40 ms apart with keyframes every `gop` frames. */
function table(n: number, gop: number, backoff = false): FrameTable {
  const b = new FrameTableBuilder();
  for (let i = 0; i < n; i++) b.add(i * 512, i % gop === 0 ? 'K__' : '___');
  return b.build(1 / 12800, backoff).table!;
}

describe('FrameTableBuilder', () => {
  it('sorts packets from decode order into display order and finds the keyframes there', () => {
    const b = new FrameTableBuilder();
    // decode order of an open GOP: I0 P3 B1 B2 | I6 B4 B5 P8 B7 (pts in frames of 512)
    for (const [pts, flags] of [[0, 'K_'], [3, '__'], [1, '__'], [2, '__'], [6, 'K_'], [4, '__'], [5, '__'], [8, '__'], [7, '__']] as const) b.add(pts * 512, flags);
    const { table: t, problem } = b.build(1 / 12800, true);
    expect(problem).toBeUndefined();
    expect([...t!.times]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => (i * 512) / 12800));
    expect([...t!.keyframes]).toEqual([0, 6]);
    expect(t!.tolerance).toBeCloseTo(0.01, 12);
    expect(b.count).toBe(9);
  });

  it('leaves out packets an edit list drops, and counts them', () => {
    const b = new FrameTableBuilder();
    b.add(-1024, 'K_D');
    b.add(-512, '_D_');
    b.add(0, '___');
    b.add(512, 'K__');
    expect(b.count).toBe(2);
    expect(b.discarded).toBe(2);
    expect([...b.build(1 / 12800, false).table!.keyframes]).toEqual([1]);
  });

  it('gives no table, and says why, when timestamps cannot be sought by', () => {
    const missing = new FrameTableBuilder();
    missing.add(0, 'K_');
    missing.add(undefined, '__');
    expect(missing.build(1 / 25, false)).toEqual({ problem: 'packets without timestamps' });
    expect(missing.count).toBe(2);
    const twice = new FrameTableBuilder();
    twice.add(0, 'K_');
    twice.add(0, '__');
    expect(twice.build(1 / 25, false).problem).toBe('two frames with the same timestamp');
    const noKey = new FrameTableBuilder();
    noKey.add(0, '__');
    noKey.add(1, '__');
    expect(noKey.build(1 / 25, false).problem).toBe('no keyframes');
  });
});

describe('planning', () => {
  it('starts each frame at the last keyframe at or before it', () => {
    const t = table(100, 10);
    expect([0, 9, 10, 11, 99].map((i) => keyframeBefore(t, i))).toEqual([0, 0, 10, 10, 90]);
  });

  it('decodes on through small gaps and seeks over large ones', () => {
    const t = table(200, 10);
    expect(planSegments(t, [3, 5, 12, 48, 49, 51, 150], 0)).toEqual([
      { start: 0, frames: [3, 5] },
      { start: 10, frames: [12] },
      { start: 40, frames: [48, 49] },
      { start: 50, frames: [51] },
      { start: 150, frames: [150] },
    ]);
    // keyframe 50 is 1 frame past 49: decoding on is cheaper than a new process at gap ≥ 1
    expect(planSegments(t, [3, 5, 12, 48, 49, 51, 150], 5).map((s) => s.start)).toEqual([0, 40, 150]);
    expect(planSegments(t, [3, 150], 1000)).toEqual([{ start: 0, frames: [3, 150] }]);
  });

  it('merges more frames of small videos than of large ones', () => {
    expect(mergeGap(1920, 1080)).toBe(8);
    expect(mergeGap(1280, 720)).toBe(11);
    expect(mergeGap(320, 240)).toBe(130);
  });

  it('asks ffmpeg for a time that lands on the keyframe, backing off like ffmpeg does with B-frames', () => {
    const plain = table(200, 50);
    expect(seekSeconds(plain, 0)).toBeUndefined(); // the first frame: no seek
    expect(seekSeconds(plain, 50)).toBe(2);
    const withB = table(200, 50, true);
    expect(seekSeconds(withB, 50)).toBe(Math.ceil((2 + FFMPEG_SEEK_BACKOFF_SECONDS) * 1e6) / 1e6);
    // never past the middle of the gap to the next keyframe
    const dense = table(40, 2, true);
    expect(seekSeconds(dense, 2)).toBeCloseTo(0.08 + 0.04, 6);
  });

  it('picks frames by time, runs of frames as one range, and finds a frame from its time', () => {
    const t = table(100, 10);
    expect(timeSelectExpression(t, [10, 11, 12, 20])).toBe(
      'between(t\\,0.390000000\\,0.490000000)+between(t\\,0.790000000\\,0.810000000)');
    expect(frameAtTime(t, 0.8)).toBe(20);
    expect(frameAtTime(t, 0.8 + 0.009)).toBe(20);
    expect(frameAtTime(t, 0.82)).toBe(-1);
    expect(frameAtTime(t, 99 * 0.04 + 1)).toBe(-1);
  });
});
