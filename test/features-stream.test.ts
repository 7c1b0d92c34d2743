// The pipeline streams: frames go decode → backbone in chunks of at most the backbone's chunk,
// each frame's features land at its (clip, t) whatever the chunk cuts (checked against a
// per-frame function of the whole clip as loadClips decodes it, an independent path), and no
// more frames are decoded ahead of the backbone than a few chunks, however long the clip.
// A store takes the features as they come; one that fails loses its item only.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Backbone } from '../src/backbone/index.js';
import { featureBatches, isSkipped, type FeatureBatch, type PipelineItem, type ViewPlan } from '../src/features/pipeline.js';
import { createRng } from '../src/random.js';
import * as video from '../src/video/index.js';
import { ffmpegInput, runFfmpeg } from '../src/video/ffmpeg.js';

// Every stream the pipeline opens, to read how far its decoder has gone.
const opened: video.ClipStream[] = [];
vi.mock('../src/video/index.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/video/index.js')>();
  return {
    ...original,
    openClips: async (...args: Parameters<typeof original.openClips>) => {
      const stream = await original.openClips(...args);
      opened.push(stream);
      return stream;
    },
  };
});

const S = 32;
const FRAME = S * S * 3;
let dir: string;
let clip: string;

/** The fake backbone's features of one rgb24 frame: D = 3 values, the mean of each channel. */
function frameFeatures(frame: Uint8Array): number[] {
  const sums = [0, 0, 0];
  for (let i = 0; i < frame.length; i++) sums[i % 3]! += frame[i]!;
  return sums.map((s) => s / (frame.length / 3));
}

/** A backbone of L = 1, P = 1, D = 3 computing frameFeatures, recording each call. */
function fakeBackbone(chunk: number, onForward?: (numFrames: number) => void): Backbone {
  return {
    config: { interpolation: 'bicubic' }, layers: [0], tokens: 1, width: 3, chunk,
    async forward(frames: Uint8Array | Float32Array, numFrames: number) {
      expect(numFrames).toBeLessThanOrEqual(chunk);
      onForward?.(numFrames);
      const out = new Float32Array(numFrames * 3); // [n, L, P, D]
      for (let j = 0; j < numFrames; j++) out.set(frameFeatures((frames as Uint8Array).subarray(j * FRAME, (j + 1) * FRAME)), j * 3);
      return out;
    },
    async dispose() {},
  } as unknown as Backbone;
}

async function collect<I extends PipelineItem>(results: AsyncIterable<FeatureBatch<I> | { skipped: I; reason: string }>) {
  const batches: FeatureBatch<I>[] = [];
  const skipped: string[] = [];
  for await (const r of results) {
    if (isSkipped(r)) skipped.push(r.reason);
    else batches.push(r);
  }
  return { batches, skipped };
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-features-stream-'));
  clip = path.join(dir, 'clip.mp4');
  const r = await runFfmpeg(['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=s=96x72:r=25:d=12', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-pix_fmt', 'yuv420p', ffmpegInput(clip)]);
  expect(r.code).toBe(0);
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('featureBatches streams clips through the backbone', () => {
  const cases: { name: string; plan: ViewPlan; chunk: number }[] = [
    { name: 'test mode, 2 views × 3 crops, chunks cutting across clips', plan: { clip: { numFrames: 5, size: S, mode: 'test', views: 2, crops: 3 }, seed: 'a' }, chunk: 4 },
    { name: 'train mode, a random crop and flip', plan: { clip: { numFrames: 16, size: S, mode: 'train', flip: true }, seed: 'b' }, chunk: 3 },
    { name: 'one chunk holds the whole clip', plan: { clip: { numFrames: 4, size: S, mode: 'test' }, seed: 'c' }, chunk: 8 },
  ];
  for (const { name, plan, chunk } of cases) {
    it(`${name}: every frame's features at its (clip, t)`, async () => {
      const { clips } = await video.loadClips(clip, plan.clip, createRng(plan.seed));
      const { batches, skipped } = await collect(featureBatches([{ path: clip, label: 0 }], { backbone: fakeBackbone(chunk), batchSize: 1, plan: () => plan }));
      expect(skipped).toEqual([]);
      expect(batches).toHaveLength(1);
      const { clips: [features], views, numFrames, sources } = batches[0]!;
      expect(views).toBe(clips.length);
      expect(numFrames).toBe(plan.clip.numFrames);
      expect(sources[0]!.indices).toEqual(clips.map((c) => c.indices));
      const expected = clips.flatMap((c) => Array.from({ length: c.numFrames }, (_, t) => frameFeatures(c.frames.subarray(t * FRAME, (t + 1) * FRAME))).flat());
      expect(Array.from(features!)).toEqual(expected.map((x) => Math.fround(x)));
    });
  }

  it('decodes no more than a few chunks ahead of the backbone, however long the clip', async () => {
    const T = 96;
    const chunk = 4;
    opened.length = 0;
    let forwarded = 0;
    let mostAhead = 0;
    const backbone = fakeBackbone(chunk, (n) => {
      const decoded = opened.reduce((sum, s) => sum + s.framesDecoded, 0);
      mostAhead = Math.max(mostAhead, decoded - forwarded);
      forwarded += n;
    });
    const items = [0, 1, 2].map((i) => ({ path: clip, label: i }));
    const plan: ViewPlan = { clip: { numFrames: T, size: S, mode: 'test', stride: 1 }, seed: 'd' };
    const { batches } = await collect(featureBatches(items, { backbone, batchSize: 3, concurrency: 2, plan: () => plan }));
    expect(batches[0]!.items).toHaveLength(3);
    expect(forwarded).toBe(3 * T);
    // The chunk in the backbone, the next one of its clip and the first of the next clip (2 decoding).
    expect(mostAhead).toBeGreaterThan(0);
    expect(mostAhead).toBeLessThanOrEqual(3 * chunk);
  });

  it('hands features to a store as they come; a store that fails loses its item only', async () => {
    const plan: ViewPlan = { clip: { numFrames: 6, size: S, mode: 'test' }, seed: 'e' };
    const written = new Map<number, Float32Array>();
    const items = [0, 1, 2].map((i) => ({ path: clip, label: i }));
    const { batches, skipped } = await collect(featureBatches(items, {
      backbone: fakeBackbone(4), batchSize: 1, plan: () => plan,
      async store(item, shape) {
        expect(shape).toEqual([1, 6, 1, 1, 3]);
        const values = new Float32Array(6 * 3);
        written.set(item.label, values);
        return {
          async write(at, data) {
            if (item.label === 1) throw new Error('no space left on device');
            values.set(data, at);
          },
        };
      },
    }));
    expect(skipped).toEqual(['no space left on device']);
    expect(batches.map((b) => b.items[0]!.label)).toEqual([0, 2]);
    expect(batches.every((b) => b.clips.every((c) => c.length === 0))).toBe(true);
    const { clips } = await video.loadClips(clip, plan.clip, createRng(plan.seed));
    const expected = Array.from({ length: 6 }, (_, t) => frameFeatures(clips[0]!.frames.subarray(t * FRAME, (t + 1) * FRAME))).flat();
    for (const label of [0, 2]) expect(Array.from(written.get(label)!)).toEqual(expected.map((x) => Math.fround(x)));
  });

  it('skips a broken file among good ones, in input order', async () => {
    const broken = path.join(dir, 'broken.mp4');
    await fs.writeFile(broken, Buffer.alloc(5000, 3));
    const plan: ViewPlan = { clip: { numFrames: 4, size: S, mode: 'test' }, seed: 'f' };
    const items = [clip, broken, clip].map((p, i) => ({ path: p, label: i }));
    const { batches, skipped } = await collect(featureBatches(items, { backbone: fakeBackbone(4), batchSize: 2, plan: () => plan }));
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toContain('broken.mp4');
    expect(batches.flatMap((b) => b.items.map((i) => i.label))).toEqual([0, 2]);
  });
});
