// A video file → typed clips of rgb24 frames, exactly what the model sees before normalisation.
// One probe and one decode per file: in test mode the frames of every view are decoded
// together (their union, once) and the crops are cut from them in memory.
import { expected, LosaError } from '../errors.js';
import type { Rng } from '../random.js';
import { decodeFrames, type DecodeOptions } from './decode.js';
import { probeVideo, type VideoInfo } from './probe.js';
import {
  DEFAULT_CROP_RATIO,
  DEFAULT_CROP_SCALE,
  DEFAULT_CROPS,
  DEFAULT_VIEWS,
  frameTimestamps,
  sampleFrameIndices,
  scaledSize,
  testCrops,
  trainCrop,
  type CropBox,
  type Stride,
} from './sampling.js';

export interface ClipOptions {
  /** Frames per clip (T). */
  numFrames: number;
  /** Side of the square frames (S). */
  size: number;
  mode: 'train' | 'test';
  /** Training temporal sampling (default DEFAULT_SAMPLING, `segment`). */
  sampling?: 'segment' | 'window';
  /** Frame stride of training windows and test views (default DEFAULT_STRIDE, `auto`; see sampling.ts). */
  stride?: Stride;
  /** Test: temporal views (default DEFAULT_VIEWS). */
  views?: number;
  /** Test: spatial crops per view (default DEFAULT_CROPS). */
  crops?: 1 | 3;
  /** Train: flip horizontally with probability 1/2 (default false). */
  flip?: boolean;
  /** Train: area fraction range of the random crop (default DEFAULT_CROP_SCALE). */
  scale?: readonly [number, number];
  /** Train: aspect ratio range of the random crop (default DEFAULT_CROP_RATIO). */
  ratio?: readonly [number, number];
  /** Decoder threads per ffmpeg process (default: ffmpeg's choice). */
  threads?: number;
  /** Resize interpolation, from the backbone's preprocessing (default bicubic). */
  interpolation?: DecodeOptions['interpolation'];
  signal?: AbortSignal;
}

export interface Clip {
  path: string;
  /** Temporal view (0 in train mode). */
  view: number;
  /** Spatial crop (0 in train mode). */
  crop: number;
  /** Frame index of each of the T frames. */
  indices: number[];
  /** Seconds of each frame: index / fps. */
  timestamps: number[];
  /** [T, S, S, 3] rgb24 after scale, crop and flip; before normalisation. */
  frames: Uint8Array;
  numFrames: number;
  size: number;
  flipped: boolean;
  /** True when the file ended early and the last frame read stands in for later ones. */
  partial?: boolean;
  /** The crop in the frame as displayed (train) or in the scaled frame (test). */
  box?: CropBox;
}

function checkOptions(options: ClipOptions): void {
  const { numFrames, size, mode } = options;
  if (!Number.isSafeInteger(numFrames) || numFrames < 1) throw expected('numFrames', 'an integer ≥ 1', numFrames);
  if (!Number.isSafeInteger(size) || size < 1) throw expected('size', 'an integer ≥ 1', size);
  if (mode !== 'train' && mode !== 'test') throw expected('mode', '`train` or `test`', mode);
  const views = options.views ?? DEFAULT_VIEWS;
  if (!Number.isSafeInteger(views) || views < 1) throw expected('views', 'an integer ≥ 1', views);
  if (options.crops !== undefined && options.crops !== 1 && options.crops !== 3) throw expected('crops', '1 or 3', options.crops);
}

/** Copy `box` of an [H, W, 3] frame into `out` at `offset` ([box.height, box.width, 3]). */
export function cropFrame(frame: Uint8Array, width: number, box: CropBox, out: Uint8Array, offset: number): void {
  const rowBytes = box.width * 3;
  for (let y = 0; y < box.height; y++) {
    const from = ((box.y + y) * width + box.x) * 3;
    out.set(frame.subarray(from, from + rowBytes), offset + y * rowBytes);
  }
}

/** Mirror [T, H, W, 3] frames left to right, in place. */
export function flipFramesHorizontally(frames: Uint8Array, width: number): void {
  const rowBytes = width * 3;
  for (let row = 0; row < frames.length; row += rowBytes) {
    for (let a = 0, b = width - 1; a < b; a++, b--) {
      for (let c = 0; c < 3; c++) {
        const i = row + a * 3 + c;
        const j = row + b * 3 + c;
        const t = frames[i]!;
        frames[i] = frames[j]!;
        frames[j] = t;
      }
    }
  }
}

/**
 * Probe and decode one file into clips. Train mode: one clip (random temporal sampling, random
 * resized crop, optional flip). Test mode: views × crops clips, view-major. A still image is
 * one frame repeated T times with the test transform (short side → S, centre or 3 crops).
 */
export async function loadClips(path: string, options: ClipOptions, rng: Rng): Promise<{ info: VideoInfo; clips: Clip[] }> {
  checkOptions(options);
  const { numFrames: T, size: S, mode } = options;
  const info = await probeVideo(path);
  const views = mode === 'test' ? (options.views ?? DEFAULT_VIEWS) : 1;
  const perView = info.image
    ? Array.from({ length: views }, () => new Array<number>(T).fill(0))
    : sampleFrameIndices(info.frameCount, { numFrames: T, mode, sampling: options.sampling, stride: options.stride, views }, rng);
  const all = perView.flat();
  const clipBytes = T * S * S * 3;
  const decodeBase = { threads: options.threads, interpolation: options.interpolation, signal: options.signal };

  if (mode === 'train' && !info.image) {
    const box = trainCrop(info.width, info.height, rng, options.scale ?? DEFAULT_CROP_SCALE, options.ratio ?? DEFAULT_CROP_RATIO);
    const decoded = await decodeFrames(info, all, { ...decodeBase, width: S, height: S, crop: box });
    const frames = new Uint8Array(clipBytes); // [T, S, S, 3]
    all.forEach((index, t) => frames.set(decoded.frameAt(index), t * S * S * 3));
    const flipped = options.flip === true && rng.next() < 0.5;
    if (flipped) flipFramesHorizontally(frames, S);
    const indices = perView[0]!;
    return {
      info,
      clips: [{
        path, view: 0, crop: 0, indices, timestamps: frameTimestamps(indices, info.fps), frames, numFrames: T, size: S,
        flipped, partial: decoded.read < decoded.indices.length, box,
      }],
    };
  }

  const scaled = scaledSize(info.width, info.height, S);
  const boxes = testCrops(scaled.width, scaled.height, S, mode === 'test' ? (options.crops ?? DEFAULT_CROPS) : 1);
  const decoded = await decodeFrames(info, all, { ...decodeBase, width: scaled.width, height: scaled.height });
  const partial = decoded.read < decoded.indices.length;
  const clips: Clip[] = [];
  perView.forEach((indices, view) => {
    boxes.forEach((box, crop) => {
      const frames = new Uint8Array(clipBytes); // [T, S, S, 3]
      indices.forEach((index, t) => cropFrame(decoded.frameAt(index), scaled.width, box, frames, t * S * S * 3));
      clips.push({
        path, view, crop, indices, timestamps: frameTimestamps(indices, info.fps), frames, numFrames: T, size: S,
        flipped: false, partial, box,
      });
    });
  });
  if (clips.length === 0) throw new LosaError(`${path}: no clips`);
  return { info, clips };
}
