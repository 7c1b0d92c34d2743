// Which frames and which pixels make a clip: pure functions of (frame count, fps, frame size,
// options, random source). No I/O, so every rule here is tested with a table of cases.
//
// Temporal sampling (T = numFrames, N = frameCount):
// - train, `segment` (default, TSN): split [0, N) into T equal segments, one uniformly random
//   frame in each. The clip spans the whole video.
// - train, `window`: T frames `stride` apart starting at a uniformly random frame, so the
//   window lies inside the video when it fits. Stride `auto` = max(1, floor(N / T)).
// - test, stride `auto` (default): the deterministic counterpart of segment sampling. View v of
//   V takes frame floor((i + (v + 0.5) / V) · N / T) of segment i: one view spans the whole
//   video at the segments' centres (what training samples on average), and V views interleave.
// - test, integer stride s: V windows of T frames s apart, their starts spread uniformly from
//   the first frame to the last possible one (one view: centred).
// A video shorter than a clip gives its frames in order and then repeats its last frame.
//
// Spatial sampling:
// - test: the short side is scaled to S, then 1 crop (centre) or 3 crops (start, centre, end
//   along the long side), S×S each.
// - train: a random resized crop (area fraction in `scale`, aspect ratio in `ratio`, as in
//   torchvision's RandomResizedCrop) of the frame as displayed, scaled to S×S; horizontal flip
//   with probability 1/2 only when asked (it changes the class of direction data sets).
import { expected } from '../errors.js';
import type { Rng } from '../random.js';

export type Stride = number | 'auto';

export interface TemporalOptions {
  numFrames: number;
  mode: 'train' | 'test';
  sampling?: 'segment' | 'window';
  stride?: Stride;
  views?: number;
}

export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

// The sampling defaults, defined here once; training, testing, `losa frames` and the command
// help all import them.
/** Frames per clip (T). */
export const DEFAULT_NUM_FRAMES = 8;
/** Side of the square frames when no backbone says otherwise (the presets' input size). */
export const DEFAULT_IMAGE_SIZE = 224;
/** Training's temporal sampling. */
export const DEFAULT_SAMPLING: 'segment' | 'window' = 'segment';
/** Frame stride of windows and test views: `auto` spans the whole video. */
export const DEFAULT_STRIDE: Stride = 'auto';
/** Test: temporal views per video, and spatial crops per view. */
export const DEFAULT_VIEWS = 1;
export const DEFAULT_CROPS: 1 | 3 = 1;
/**
 * Area fraction range of the training crop. Mild crops: the motion classes of small data sets
 * (and of the demo's random backbone) suffer from strong ones (measured: val top-1 0.97 with
 * [0.7, 1], 0.66 with [0.5, 1]).
 */
export const DEFAULT_CROP_SCALE: readonly [number, number] = Object.freeze([0.7, 1] as [number, number]);
/** Aspect ratio range of the training crop (torchvision's RandomResizedCrop). */
export const DEFAULT_CROP_RATIO: readonly [number, number] = Object.freeze([3 / 4, 4 / 3] as [number, number]);

function checkCount(name: string, value: number, min = 1): void {
  if (!Number.isSafeInteger(value) || value < min) throw expected(name, `an integer ≥ ${min}`, value);
}

/** The indices 0..n-1 followed by n-1 repeated up to `numFrames` entries (n < numFrames). */
function shortVideo(frameCount: number, numFrames: number): number[] {
  return Array.from({ length: numFrames }, (_, i) => Math.min(i, frameCount - 1));
}

/** The frame stride a window uses: `auto` = max(1, floor(N / T)). */
export function resolveStride(frameCount: number, numFrames: number, stride: Stride = DEFAULT_STRIDE): number {
  if (stride === 'auto') return Math.max(1, Math.floor(frameCount / numFrames));
  checkCount('stride', stride);
  return stride;
}

/** TSN training sampling: T equal segments, one random frame in each. */
export function sampleSegments(frameCount: number, numFrames: number, rng: Rng): number[] {
  checkCount('frameCount', frameCount);
  checkCount('numFrames', numFrames);
  if (frameCount < numFrames) return shortVideo(frameCount, numFrames);
  const length = frameCount / numFrames;
  return Array.from({ length: numFrames }, (_, i) =>
    Math.min(frameCount - 1, Math.floor(i * length + rng.next() * length)));
}

/** T frames `stride` apart from `start`, clamped to the last frame. */
export function windowIndices(frameCount: number, numFrames: number, stride: number, start: number): number[] {
  return Array.from({ length: numFrames }, (_, i) => Math.min(frameCount - 1, start + i * stride));
}

/** Training window: a random start, T frames `stride` apart. */
export function sampleWindow(frameCount: number, numFrames: number, stride: Stride, rng: Rng): number[] {
  checkCount('frameCount', frameCount);
  checkCount('numFrames', numFrames);
  const step = resolveStride(frameCount, numFrames, stride);
  const span = (numFrames - 1) * step + 1;
  const start = span >= frameCount ? 0 : rng.int(frameCount - span + 1);
  return windowIndices(frameCount, numFrames, step, start);
}

/** Test views: V clips spread uniformly over the video, each with the same stride. */
export function sampleTestViews(frameCount: number, numFrames: number, views: number, stride: Stride = DEFAULT_STRIDE): number[][] {
  checkCount('frameCount', frameCount);
  checkCount('numFrames', numFrames);
  checkCount('views', views);
  if (frameCount < numFrames) return Array.from({ length: views }, () => shortVideo(frameCount, numFrames));
  if (stride === 'auto') {
    const length = frameCount / numFrames;
    return Array.from({ length: views }, (_, v) =>
      Array.from({ length: numFrames }, (_, i) => Math.min(frameCount - 1, Math.floor((i + (v + 0.5) / views) * length))));
  }
  const step = resolveStride(frameCount, numFrames, stride);
  const span = (numFrames - 1) * step + 1;
  const room = Math.max(0, frameCount - span);
  return Array.from({ length: views }, (_, v) => {
    const start = views === 1 ? Math.floor(room / 2) : Math.round((v * room) / (views - 1));
    return windowIndices(frameCount, numFrames, step, start);
  });
}

/** The frame indices of each view (train: one view). */
export function sampleFrameIndices(frameCount: number, options: TemporalOptions, rng: Rng): number[][] {
  const stride = options.stride ?? DEFAULT_STRIDE;
  if (options.mode === 'test') return sampleTestViews(frameCount, options.numFrames, options.views ?? DEFAULT_VIEWS, stride);
  if ((options.sampling ?? DEFAULT_SAMPLING) === 'window') return [sampleWindow(frameCount, options.numFrames, stride, rng)];
  return [sampleSegments(frameCount, options.numFrames, rng)];
}

/** Seconds of each frame index: index / fps. */
export function frameTimestamps(indices: readonly number[], fps: number): number[] {
  return indices.map((i) => (fps > 0 ? i / fps : 0));
}

/** The size of a frame whose short side is scaled to `size` (long side rounded, at least `size`). */
export function scaledSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.max(size, Math.round((height * size) / width)) };
  return { width: Math.max(size, Math.round((width * size) / height)), height: size };
}

/** Test crops of an already scaled frame: 1 = centre; 3 = start, centre, end along the long side. */
export function testCrops(width: number, height: number, size: number, crops: 1 | 3): CropBox[] {
  if (crops !== 1 && crops !== 3) throw expected('crops', '1 or 3', crops);
  const cx = Math.floor((width - size) / 2);
  const cy = Math.floor((height - size) / 2);
  const box = (x: number, y: number): CropBox => ({ x, y, width: size, height: size });
  if (crops === 1) return [box(cx, cy)];
  if (width >= height) return [box(0, cy), box(cx, cy), box(width - size, cy)];
  return [box(cx, 0), box(cx, cy), box(cx, height - size)];
}

/** A random resized crop of a width×height frame (RandomResizedCrop: 10 tries, then a centre crop). */
export function trainCrop(
  width: number,
  height: number,
  rng: Rng,
  scale: readonly [number, number] = DEFAULT_CROP_SCALE,
  ratio: readonly [number, number] = DEFAULT_CROP_RATIO,
): CropBox {
  if (!(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1)) throw expected('scale', 'a range within (0, 1]', scale);
  if (!(ratio[0] > 0 && ratio[0] <= ratio[1])) throw expected('ratio', 'a positive range', ratio);
  const area = width * height;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])] as const;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logRatio[0], logRatio[1]));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      return { x: rng.int(width - w + 1), y: rng.int(height - h + 1), width: w, height: h };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), width: w, height: h };
}
