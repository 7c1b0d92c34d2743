// Decode only the frames asked for, at the size asked for, in one ffmpeg call:
//   select (frame numbers) → rotate for display → crop (optional) → scale → rgb24 on a pipe.
// `select` comes first, so rotation, cropping, scaling and colour conversion run on the
// selected frames only; `-frames:v` stops ffmpeg once the last one is out; `-vsync
// passthrough` keeps ffmpeg from duplicating or dropping frames of variable-frame-rate video.
// Memory is the output only: unique frames × width × height × 3 bytes, whatever the source.
import { LosaError } from '../errors.js';
import type { CropBox } from './sampling.js';
import { ffmpegInput, lastErrorLine, startFfmpeg } from './ffmpeg.js';
import { imageInputOptions, type VideoInfo } from './probe.js';

export interface DecodeOptions {
  /** Output frame width and height, after cropping and scaling. */
  width: number;
  height: number;
  /** Region of the frame as displayed (after rotation) to keep before scaling; default all. */
  crop?: CropBox;
  /** Decoder threads (ffmpeg's `-threads`); default: ffmpeg's choice. */
  threads?: number;
  /** The scaler's interpolation (the backbone's preprocessing); default bicubic. */
  interpolation?: 'bicubic' | 'bilinear' | 'lanczos' | 'nearest';
  signal?: AbortSignal;
}

/** ffmpeg's swscale flag for each interpolation. */
const SCALE_FLAGS = { bicubic: 'bicubic', bilinear: 'bilinear', lanczos: 'lanczos', nearest: 'neighbor' } as const;

export interface DecodedFrames {
  /** The distinct frame indices asked for, ascending. */
  indices: number[];
  /** [U, H, W, 3] rgb24, one frame per entry of `indices`. */
  frames: Uint8Array;
  width: number;
  height: number;
  /** How many of `indices` (the first ones) were read; the rest repeat the last one read. */
  read: number;
  /** The frame of one of the indices asked for, as a view into `frames` ([H, W, 3]). */
  frameAt(index: number): Uint8Array;
}

/** ffmpeg `select` expression for a set of frame numbers: runs become `between`, commas escaped. */
export function selectExpression(sortedUnique: readonly number[]): string {
  const terms: string[] = [];
  for (let i = 0; i < sortedUnique.length; ) {
    let j = i;
    while (j + 1 < sortedUnique.length && sortedUnique[j + 1] === sortedUnique[j]! + 1) j++;
    const a = sortedUnique[i]!;
    const b = sortedUnique[j]!;
    terms.push(a === b ? `eq(n\\,${a})` : `between(n\\,${a}\\,${b})`);
    i = j + 1;
  }
  return terms.join('+');
}

/** The filters that turn stored frames into frames as displayed (clockwise rotation). */
export function rotationFilters(rotation: number): string[] {
  if (rotation === 90) return ['transpose=clock'];
  if (rotation === 180) return ['hflip', 'vflip'];
  if (rotation === 270) return ['transpose=cclock'];
  return [];
}

/** The ffmpeg arguments that decode `sortedUnique` frames of `info` as rgb24 to stdout. */
export function decodeArgs(info: VideoInfo, sortedUnique: readonly number[], options: DecodeOptions): string[] {
  const filters = [`select=${selectExpression(sortedUnique)}`, ...rotationFilters(info.rotation)];
  const { crop } = options;
  if (crop && !(crop.x === 0 && crop.y === 0 && crop.width === info.width && crop.height === info.height)) {
    filters.push(`crop=${crop.width}:${crop.height}:${crop.x}:${crop.y}:exact=1`);
  }
  filters.push(`scale=${options.width}:${options.height}:flags=${SCALE_FLAGS[options.interpolation ?? 'bicubic']}`);
  const args = ['-loglevel', 'error', '-noautorotate'];
  if (options.threads !== undefined) args.push('-threads', String(options.threads));
  args.push(...imageInputOptions(info.path), '-i', ffmpegInput(info.path));
  args.push('-map', `0:${info.streamIndex ?? 0}`, '-vf', filters.join(','), '-vsync', 'passthrough');
  args.push('-frames:v', String(sortedUnique.length), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  return args;
}

/**
 * Decode the frames `indices` (any order, repeats allowed) of a probed video. A file that
 * stops early yields the frames it has: indices past the last frame read repeat it
 * (`read` < `indices.length`). No frame at all is an error naming the file.
 */
export async function decodeFrames(info: VideoInfo, indices: readonly number[], options: DecodeOptions): Promise<DecodedFrames> {
  if (indices.length === 0) throw new LosaError(`${info.path}: no frames asked for`);
  for (const i of indices) {
    if (!Number.isSafeInteger(i) || i < 0) throw new LosaError(`${info.path}: bad frame index ${i}`);
  }
  const { width, height } = options;
  if (!(Number.isSafeInteger(width) && width > 0 && Number.isSafeInteger(height) && height > 0)) {
    throw new LosaError(`${info.path}: bad output size ${width}x${height}`);
  }
  const unique = [...new Set(indices)].sort((a, b) => a - b);
  const frameBytes = width * height * 3;
  const frames = new Uint8Array(unique.length * frameBytes); // [U, H, W, 3]
  let received = 0;

  const { child, done } = await startFfmpeg(decodeArgs(info, unique, options));
  const onAbort = (): void => void child.kill('SIGKILL');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  child.stdout!.on('data', (chunk: Buffer) => {
    const room = frames.length - received;
    if (room <= 0) return;
    const n = Math.min(room, chunk.length);
    frames.set(n === chunk.length ? chunk : chunk.subarray(0, n), received);
    received += n;
  });
  let result;
  try {
    result = await done;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (options.signal?.aborted) throw new LosaError(`${info.path}: decoding stopped`);
  const read = Math.floor(received / frameBytes);
  if (read === 0) {
    const why = lastErrorLine(result.stderr, ffmpegInput(info.path));
    if (result.code !== 0) throw new LosaError(`${info.path}: cannot decode (${why || `ffmpeg exited with ${result.code ?? result.signal}`})`);
    throw new LosaError(`${info.path}: no readable frames (asked for frames ${unique[0]}–${unique[unique.length - 1]} of ${info.frameCount})`);
  }
  const position = new Map(unique.map((index, k) => [index, Math.min(k, read - 1)]));
  return {
    indices: unique,
    frames,
    width,
    height,
    read,
    frameAt(index: number): Uint8Array {
      const k = position.get(index);
      if (k === undefined) throw new RangeError(`frame ${index} was not decoded`);
      return frames.subarray(k * frameBytes, (k + 1) * frameBytes);
    },
  };
}
