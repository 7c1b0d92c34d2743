// A video file → typed clips of rgb24 frames, exactly what the model sees before normalisation.
// loadClips collects the chunks of stream.ts into whole clips: for callers that want every
// frame of a clip at once (few frames, or a test). Streaming callers use openClips.
import type { Rng } from '../random.js';
import type { VideoInfo } from './probe.js';
import type { Interpolation } from './decode.js';
import type { CropBox, Stride } from './sampling.js';
import { openClips } from './stream.js';

export { cropFrame, flipFramesHorizontally } from './stream.js';

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
  interpolation?: Interpolation;
  /** Seek to the keyframe before each stretch of frames (default true; false: decode from the first frame). */
  seek?: boolean;
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

/**
 * Probe and decode one file into clips. Train mode: one clip (random temporal sampling, random
 * resized crop, optional flip). Test mode: views × crops clips, view-major. A still image is
 * one frame repeated T times with the test transform (short side → S, centre or 3 crops).
 */
export async function loadClips(path: string, options: ClipOptions, rng: Rng): Promise<{ info: VideoInfo; clips: Clip[] }> {
  const stream = await openClips(path, options, rng);
  const { numFrames: T, size: S } = options;
  const frameBytes = S * S * 3;
  const clips: Clip[] = stream.clips.map((layout) => ({ ...layout, frames: new Uint8Array(T * frameBytes) })); // [T, S, S, 3] each
  for await (const chunk of stream.chunks(T)) {
    for (let j = 0; j < chunk.count; j++) {
      clips[chunk.clip[j]!]!.frames.set(chunk.frames.subarray(j * frameBytes, (j + 1) * frameBytes), chunk.t[j]! * frameBytes);
    }
    chunk.release();
  }
  for (const clip of clips) clip.partial = stream.partial;
  return { info: stream.info, clips };
}
