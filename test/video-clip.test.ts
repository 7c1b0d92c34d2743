// Clips: the frames the model sees (indices, crops, flips, images, short and partial files)
// and their normalisation. Fixture frames carry their frame index in green (level(i)) and
// their x position in red (a ramp), so both time and space can be checked after decoding.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../src/random.js';
import { loadClips } from '../src/video/clip.js';
import { normalizeFrames } from '../src/backbone/preprocess.js';
import { ffmpegInput, runFfmpeg } from '../src/video/ffmpeg.js';
import { isImagePath } from '../src/video/probe.js';
import { sampleSegments, sampleTestViews } from '../src/video/sampling.js';
import { writeVideo } from '../src/video/synth.js';

const W = 64;
const H = 48;
const LOSSLESS = ['-c:v', 'libx264', '-qp', '0', '-preset', 'ultrafast', '-pix_fmt', 'yuv444p'];
const level = (i: number): number => 16 + 6 * i;
const ramp = (x: number, width: number): number => Math.round((x * 255) / (width - 1));

let dir: string;
let video: string;

function rampFrames(count: number, width = W, height = H): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const f = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        f[(y * width + x) * 3] = ramp(x, width);
        f[(y * width + x) * 3 + 1] = level(i);
      }
    }
    return f;
  });
}

/** Frame index of frame t of a clip (from the mean green level). */
function indexOf(frames: Uint8Array, t: number, size: number): number {
  let sum = 0;
  const n = size * size;
  for (let p = 0; p < n; p++) sum += frames[(t * n + p) * 3 + 1]!;
  return Math.round((sum / n - 16) / 6);
}

/** Mean red of column x of frame t. */
function columnRed(frames: Uint8Array, t: number, size: number, x: number): number {
  let sum = 0;
  for (let y = 0; y < size; y++) sum += frames[((t * size + y) * size + x) * 3]!;
  return sum / size;
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-clip-'));
  video = path.join(dir, 'ramp.mp4');
  await writeVideo(video, rampFrames(36), { width: W, height: H, fps: 12, codecArgs: LOSSLESS });
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('test mode', () => {
  it('gives views × crops clips, view-major, with the sampled frames and crops', async () => {
    const S = 24;
    const { info, clips } = await loadClips(video, { numFrames: 6, size: S, mode: 'test', views: 2, crops: 3 }, createRng(0));
    expect(info.frameCount).toBe(36);
    const views = sampleTestViews(36, 6, 2, 'auto');
    expect(clips.map((c) => [c.view, c.crop])).toEqual([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]);
    // scaled frame 32×24: crops at x = 0, 4, 8; the source ramp is 2 source pixels per output pixel
    const expectedLeftRed = [0, 4, 8].map((x) => ramp(2 * x + 0.5, W));
    for (const clip of clips) {
      expect(clip.indices).toEqual(views[clip.view]);
      expect(clip.timestamps).toEqual(views[clip.view]!.map((i) => i / 12));
      expect(clip.frames.length).toBe(6 * S * S * 3);
      expect(Array.from({ length: 6 }, (_, t) => indexOf(clip.frames, t, S))).toEqual(clip.indices);
      expect(clip.flipped).toBe(false);
      expect(Math.abs(columnRed(clip.frames, 0, S, 0) - expectedLeftRed[clip.crop]!)).toBeLessThan(8);
    }
  });

  it('repeats the last frame of a video shorter than a clip', async () => {
    const file = path.join(dir, 'short.mp4');
    await writeVideo(file, rampFrames(3), { width: W, height: H, fps: 12, codecArgs: LOSSLESS });
    const { clips } = await loadClips(file, { numFrames: 8, size: 16, mode: 'test' }, createRng(0));
    expect(clips[0]!.indices).toEqual([0, 1, 2, 2, 2, 2, 2, 2]);
    expect(Array.from({ length: 8 }, (_, t) => indexOf(clips[0]!.frames, t, 16))).toEqual([0, 1, 2, 2, 2, 2, 2, 2]);
  });
});

describe('train mode', () => {
  it('samples segments with the given random source and decodes those frames', async () => {
    const { clips } = await loadClips(video, { numFrames: 8, size: 20, mode: 'train' }, createRng('t'));
    expect(clips).toHaveLength(1);
    const clip = clips[0]!;
    // temporal sampling draws first from the clip's random source
    expect(clip.indices).toEqual(sampleSegments(36, 8, createRng('t')));
    expect(Array.from({ length: 8 }, (_, t) => indexOf(clip.frames, t, 20))).toEqual(clip.indices);
    expect(clip.box!.width * clip.box!.height).toBeGreaterThanOrEqual(0.38 * W * H);
  });

  it('flips only when asked, and then about half the time (the ramp reverses)', async () => {
    const flips: boolean[] = [];
    for (let seed = 0; seed < 8; seed++) {
      const unflipped = (await loadClips(video, { numFrames: 2, size: 16, mode: 'train' }, createRng(seed))).clips[0]!;
      expect(unflipped.flipped).toBe(false);
      expect(columnRed(unflipped.frames, 0, 16, 0)).toBeLessThan(columnRed(unflipped.frames, 0, 16, 15));
      const clip = (await loadClips(video, { numFrames: 2, size: 16, mode: 'train', flip: true }, createRng(seed))).clips[0]!;
      flips.push(clip.flipped);
      const [left, right] = [columnRed(clip.frames, 1, 16, 0), columnRed(clip.frames, 1, 16, 15)];
      expect(clip.flipped ? left > right : left < right).toBe(true);
    }
    expect(flips).toContain(true);
    expect(flips).toContain(false);
  });

  it('window sampling keeps the stride', async () => {
    const { clips } = await loadClips(video, { numFrames: 4, size: 16, mode: 'train', sampling: 'window', stride: 3 }, createRng(2));
    const idx = clips[0]!.indices;
    expect(idx.slice(1).map((x, i) => x - idx[i]!)).toEqual([3, 3, 3]);
    expect(Array.from({ length: 4 }, (_, t) => indexOf(clips[0]!.frames, t, 16))).toEqual(idx);
  });

  it('is deterministic for a seed', async () => {
    const a = (await loadClips(video, { numFrames: 4, size: 16, mode: 'train', flip: true }, createRng(9))).clips[0]!;
    const b = (await loadClips(video, { numFrames: 4, size: 16, mode: 'train', flip: true }, createRng(9))).clips[0]!;
    expect(b.indices).toEqual(a.indices);
    expect(Buffer.from(b.frames).equals(Buffer.from(a.frames))).toBe(true);
  });
});

describe('images and partial files', () => {
  it('reads a PNG and a JPEG as one frame repeated, short side scaled, centre crop', async () => {
    // 40×20 PNG: left half black, right half white; centre crop of the 32×16 scaled image (S=16)
    // is columns 8..23: black then white.
    const pixels = Buffer.alloc(40 * 20 * 3);
    for (let p = 0; p < 40 * 20; p++) pixels.fill(p % 40 >= 20 ? 255 : 0, p * 3, p * 3 + 3);
    const pngFile = path.join(dir, 'photo 1%d.png');
    await sharp(pixels, { raw: { width: 40, height: 20, channels: 3 } }).png().toFile(pngFile);
    expect(isImagePath(pngFile)).toBe(true);
    const { info, clips } = await loadClips(pngFile, { numFrames: 4, size: 16, mode: 'test', views: 2 }, createRng(0));
    expect(info).toMatchObject({ image: true, frameCount: 1, width: 40, height: 20 });
    expect(clips).toHaveLength(2);
    const clip = clips[0]!;
    expect(clip.indices).toEqual([0, 0, 0, 0]);
    expect(columnRed(clip.frames, 3, 16, 1)).toBeLessThan(20);
    expect(columnRed(clip.frames, 3, 16, 14)).toBeGreaterThan(235);
    const jpg = path.join(dir, 'red.jpg');
    expect((await runFfmpeg(['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=red:s=48x32', '-frames:v', '1', ffmpegInput(jpg)])).code).toBe(0);
    const red = (await loadClips(jpg, { numFrames: 2, size: 8, mode: 'train' }, createRng(0))).clips[0]!;
    expect(red.frames.length).toBe(2 * 8 * 8 * 3);
    expect(red.frames[0]).toBeGreaterThan(200);
    expect(red.frames[1]).toBeLessThan(50);
  });

  it('marks clips of a truncated file as partial', async () => {
    const whole = path.join(dir, 'whole.mp4');
    const noisy = rampFrames(36).map((f, i) => f.map((v, k) => (k % 3 === 2 ? (k * 13 + i * 7) % 256 : v)));
    await writeVideo(whole, noisy, { width: W, height: H, fps: 12, codecArgs: [...LOSSLESS, '-movflags', '+faststart'] });
    const bytes = await fs.readFile(whole);
    const cut = path.join(dir, 'cut.mp4');
    await fs.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const { info, clips } = await loadClips(cut, { numFrames: 4, size: 16, mode: 'test' }, createRng(0));
    expect(info.frameCount).toBeLessThan(36);
    expect(clips[0]!.indices.every((i) => i < info.frameCount)).toBe(true);
    // indices from the frame count probed are readable; asking for more goes partial
    expect(clips[0]!.partial).toBe(false);
  });
});

describe('normalizeFrames', () => {
  it('turns [T,S,S,3] bytes into [T,3,S,S] floats (x/255 − mean)/std', () => {
    const T = 2;
    const S = 3;
    const rng = createRng('norm');
    const frames = Uint8Array.from({ length: T * S * S * 3 }, () => rng.int(256));
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const out = normalizeFrames(frames, T, S, mean, std);
    expect(out.length).toBe(T * 3 * S * S);
    for (let t = 0; t < T; t++) {
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < S; y++) {
          for (let x = 0; x < S; x++) {
            const want = (frames[((t * S + y) * S + x) * 3 + c]! / 255 - mean[c]!) / std[c]!;
            expect(out[((t * 3 + c) * S + y) * S + x]).toBeCloseTo(want, 5);
          }
        }
      }
    }
    expect(() => normalizeFrames(frames, T, 4, mean, std)).toThrow(RangeError);
  });
});
