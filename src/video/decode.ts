// Decode only the frames asked for, at the size asked for, one frame at a time.
//
// Videos with a frame table (probe.ts) are decoded in segments: each starts at the keyframe
// before its frames (`-ss`, with `-copyts` so timestamps stay the file's own) and picks them by
// time, so a frame near the end of a two-hour video costs about what one near the start does.
// Frames close together share a segment (decoding on is cheaper than a new process; see
// frame-table.ts), and while one segment is read the next ones seek and decode (one more at
// once than there are cores; short segments on one thread each). If a segment gives fewer
// frames than asked, the rest are decoded from the first frame (as without a table), and
// `--debug` says so.
//
// In every ffmpeg call `select` comes first, so rotation, cropping, scaling and colour
// conversion run on the selected frames only; `-frames:v` stops ffmpeg after the last one;
// passthrough timing keeps it from duplicating or dropping frames of variable-frame-rate video.
// Frames are read from the pipe as they are needed: memory is one frame and the pipe's buffer,
// whatever the clip or the file. Still images that sharp reads are decoded by sharp (image.ts).
import os from 'node:os';
import { debugLog } from '../debug.js';
import { LosaError } from '../errors.js';
import { atLeast } from './ffmpeg-choice.js';
import { ffmpegBinaries, ffmpegInput, lastErrorLine, startFfmpeg, type FfmpegProcess, type ProcessResult } from './ffmpeg.js';
import { frameAtTime, mergeGap, planSegments, seekSeconds, timeSelectExpression, type FrameTable, type Segment } from './frame-table.js';
import { decodeImage, type ImageDecodeOptions } from './image.js';
import { imageInputOptions, type VideoInfo } from './probe.js';
import type { CropBox } from './sampling.js';

/** A resize interpolation, as a backbone's preprocessing names it. */
export type Interpolation = NonNullable<ImageDecodeOptions['interpolation']>;

/** ffmpeg's swscale flag for each interpolation. */
const SCALE_FLAGS = { bicubic: 'bicubic', bilinear: 'bilinear', lanczos: 'lanczos', nearest: 'neighbor' } as const;

export interface DecodeOptions {
  /** Frame width and height after cropping and scaling (the output size, unless `cropScaled`). */
  width: number;
  height: number;
  /** Region of the frame as displayed (after rotation) to keep before scaling; default all. */
  crop?: CropBox;
  /** Region of the scaled frame to keep: the output is this size (a test crop cut by the decoder). */
  cropScaled?: CropBox;
  /** Decoder threads (ffmpeg's `-threads`); default: ffmpeg's choice. */
  threads?: number;
  /** The scaler's interpolation (the backbone's preprocessing); default bicubic. */
  interpolation?: Interpolation;
  /** Seek to the keyframe before each stretch of frames (default true); false decodes from the first frame. */
  seek?: boolean;
  /** Frames decoded through rather than sought over (default: what a new ffmpeg costs at this frame size; see frame-table.ts). */
  mergeGap?: number;
  /** Still images: what alpha is flattened onto (default IMAGE_BACKGROUND, white). */
  background?: { r: number; g: number; b: number };
  signal?: AbortSignal;
  /** Filled in while decoding: the segments planned, and why a seek fell back, if one did. */
  report?: DecodeReport;
}

export interface DecodeReport {
  segments?: Segment[];
  fallback?: string;
}

export interface DecodedFrame {
  index: number;
  /** [H, W, 3] rgb24; valid until the next frame is asked for (copy it to keep it). */
  frame: Uint8Array;
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

/** Segment decoders running at once, at most (see decodeBySegments). */
export const SEGMENTS_AT_ONCE = 4;

/**
 * A segment that decodes at least this many frames gets ffmpeg's frame threads; shorter ones
 * run on one thread each (see segmentThreads).
 */
export const THREADED_SEGMENT_FRAMES = 48;

/**
 * Decoder threads for one segment of a plan: ffmpeg's choice for a lone segment or a long one,
 * else one. Frame threading makes a short segment wait for its pipeline to fill (8 seeks of
 * 13–40 frames each: 370 ms on one thread each, 490 ms with ffmpeg's threads), but a long one
 * on one thread leaves a core idle (a 10 s clip planned as 172 frames and 41 frames: 590 ms on
 * one thread each, 450 ms with the long segment threaded; 2 cores).
 */
export function segmentThreads(plan: readonly Segment[], segment: Segment): number | undefined {
  const decoded = segment.frames[segment.frames.length - 1]! - Math.max(0, segment.start) + 1;
  return plan.length === 1 || decoded >= THREADED_SEGMENT_FRAMES ? undefined : 1;
}

/** `-fps_mode passthrough` (ffmpeg 5.1+), else the older spelling `-vsync passthrough`. */
export type PassthroughArgs = readonly string[];
const VSYNC: PassthroughArgs = ['-vsync', 'passthrough'];

async function passthroughArgs(): Promise<PassthroughArgs> {
  return atLeast((await ffmpegBinaries()).ffmpeg.version, 5, 1) ? ['-fps_mode', 'passthrough'] : VSYNC;
}

/** How one decode picks its frames: the `select` expression, and the options before `-i`. */
interface Selection {
  select: string;
  count: number;
  inputOptions: string[];
  /** Log each frame's timestamp (showinfo, at info level) for segment runs. */
  showTimes?: boolean;
}

/** Arguments of one decode: `select` first, then rotation, crop and scale, rgb24 to stdout. */
function frameArgs(info: VideoInfo, selection: Selection, options: DecodeOptions, passthrough: PassthroughArgs): string[] {
  const filters = [`select=${selection.select}`, ...rotationFilters(info.rotation)];
  const { crop } = options;
  if (crop && !(crop.x === 0 && crop.y === 0 && crop.width === info.width && crop.height === info.height)) {
    filters.push(`crop=${crop.width}:${crop.height}:${crop.x}:${crop.y}:exact=1`);
  }
  filters.push(`scale=${options.width}:${options.height}:flags=${SCALE_FLAGS[options.interpolation ?? 'bicubic']}`);
  const after = options.cropScaled;
  if (after) filters.push(`crop=${after.width}:${after.height}:${after.x}:${after.y}:exact=1`);
  if (selection.showTimes) filters.push('showinfo');
  const args = selection.showTimes ? ['-loglevel', 'level+info', '-nostats'] : ['-loglevel', 'error'];
  args.push('-noautorotate');
  if (options.threads !== undefined) args.push('-threads', String(options.threads));
  args.push(...selection.inputOptions, ...imageInputOptions(info.path), '-i', ffmpegInput(info.path));
  args.push('-map', `0:${info.streamIndex ?? 0}`, '-vf', filters.join(','), ...passthrough);
  args.push('-frames:v', String(selection.count), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  return args;
}

/** The ffmpeg arguments that decode `sortedUnique` frames of `info`, counted from the first, as rgb24 to stdout. */
export function decodeArgs(info: VideoInfo, sortedUnique: readonly number[], options: DecodeOptions, passthrough: PassthroughArgs = VSYNC): string[] {
  return frameArgs(info, { select: selectExpression(sortedUnique), count: sortedUnique.length, inputOptions: [] }, options, passthrough);
}

/**
 * The ffmpeg arguments of one segment: seek to its keyframe (`-seek_timestamp`: the time is
 * the file's own, not from its start; `-noaccurate_seek`: nothing is trimmed, frames are
 * picked by time), pick its frames by time and log each frame's timestamp.
 */
export function segmentArgs(info: VideoInfo, table: FrameTable, segment: Segment, options: DecodeOptions, passthrough: PassthroughArgs = VSYNC): string[] {
  const seek = seekSeconds(table, segment.start);
  const inputOptions = ['-copyts', ...(seek === undefined ? [] : ['-seek_timestamp', '1', '-noaccurate_seek', '-ss', seek.toFixed(6)])];
  return frameArgs(info, { select: timeSelectExpression(table, segment.frames), count: segment.frames.length, inputOptions, showTimes: true }, options, passthrough);
}

/**
 * rgb24 frames from ffmpeg's stdout as they arrive (backpressure: none read ahead), written
 * into the two `buffers` in turn: a decode allocates no memory per frame, so what it leaves
 * for the garbage collector does not grow with the clip.
 */
async function* framesOf(run: FfmpegProcess, buffers: readonly [Uint8Array, Uint8Array]): AsyncGenerator<Uint8Array> {
  const frameBytes = buffers[0].length;
  let turn = 0;
  let frame = buffers[0];
  let filled = 0;
  for await (const chunk of run.stdout.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    for (let offset = 0; offset < chunk.length; ) {
      const n = Math.min(frameBytes - filled, chunk.length - offset);
      frame.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === frameBytes) {
        yield frame;
        turn ^= 1;
        frame = buffers[turn]!;
        filled = 0;
      }
    }
  }
}

/**
 * The time of each frame a segment outputs, from the `showinfo` lines on ffmpeg's stderr
 * (`-loglevel level+info`), so every frame read is known by its timestamp rather than its
 * position: a frame missing from a segment can never shift the ones after it. showinfo logs a
 * frame before it is written to stdout, so its line is due by the time the frame is read.
 */
class ShownTimes {
  private timeBase = 0;
  private readonly times: number[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  /** Error lines, prefixes removed. */
  readonly errors: string[] = [];

  readonly line = (line: string): void => {
    const config = /config in time_base: (\d+)\/(\d+)/.exec(line);
    if (config) this.timeBase = Number(config[1]) / Number(config[2]);
    const shown = /\bn:\s*\d+\s+pts:\s*(-?\d+)\s+pts_time:\s*(\S+)/.exec(line);
    if (shown) this.push(this.timeBase > 0 ? Number(shown[1]) * this.timeBase : Number(shown[2]));
    else if (/\[(error|fatal|panic)\]/.test(line)) this.errors.push(line.replace(/^(\[[^\]]*\]\s*)+/, ''));
  };

  private push(seconds: number): void {
    this.times.push(seconds);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  /** The next frame's time, or undefined when ffmpeg ended without telling it. */
  async next(): Promise<number | undefined> {
    while (this.times.length === 0 && !this.ended) await new Promise<void>((resolve) => (this.wake = resolve));
    return this.times.shift();
  }
}

function checkRequest(info: VideoInfo, indices: readonly number[], options: DecodeOptions): number[] {
  if (indices.length === 0) throw new LosaError(`${info.path}: no frames asked for`);
  for (const i of indices) {
    if (!Number.isSafeInteger(i) || i < 0) throw new LosaError(`${info.path}: bad frame index ${i}`);
  }
  const { width, height } = options;
  if (!(Number.isSafeInteger(width) && width > 0 && Number.isSafeInteger(height) && height > 0)) {
    throw new LosaError(`${info.path}: bad output size ${width}x${height}`);
  }
  return [...new Set(indices)].sort((a, b) => a - b);
}

interface DecodeContext {
  info: VideoInfo;
  options: DecodeOptions;
  passthrough: PassthroughArgs;
  /** Where frames are read into, in turn (see framesOf). */
  buffers: [Uint8Array, Uint8Array];
  /** Why the last ffmpeg run failed, for the error when nothing could be read. */
  lastFailure?: ProcessResult;
}

/** Decode `frames` (ascending) counting from the first frame; yields them by position; returns how many came. */
async function* decodeFromStart(ctx: DecodeContext, frames: readonly number[], track: (run: Promise<FfmpegProcess>) => void): AsyncGenerator<DecodedFrame, number> {
  const started = startFfmpeg(decodeArgs(ctx.info, frames, ctx.options, ctx.passthrough));
  track(started);
  const run = await started;
  let k = 0;
  for await (const frame of framesOf(run, ctx.buffers)) yield { index: frames[k++]!, frame };
  const result = await run.done;
  if (result.code !== 0) ctx.lastFailure = result;
  return k;
}

/** A segment run: its ffmpeg and the frame times it reports. */
interface SegmentRun {
  run: Promise<FfmpegProcess>;
  shown: ShownTimes;
}

function startSegment(ctx: DecodeContext, table: FrameTable, segment: Segment, threads: number | undefined): SegmentRun {
  const shown = new ShownTimes();
  const args = segmentArgs(ctx.info, table, segment, { ...ctx.options, threads }, ctx.passthrough);
  const run = startFfmpeg(args, { onStderrLine: shown.line });
  void run.then((r) => r.done).catch(() => undefined).finally(() => shown.end());
  return { run, shown };
}

/** Yield a segment's frames while each is the one due; returns how many came before one was missing. */
async function* segmentFrames(ctx: DecodeContext, table: FrameTable, segment: Segment, started: SegmentRun): AsyncGenerator<DecodedFrame, number> {
  const run = await started.run;
  let k = 0;
  for await (const frame of framesOf(run, ctx.buffers)) {
    const seconds = await started.shown.next();
    const index = seconds === undefined ? -1 : frameAtTime(table, seconds);
    if (index !== segment.frames[k]) break;
    yield { index, frame };
    k++;
  }
  if (k < segment.frames.length) {
    run.kill();
    const result = await run.done;
    const why = started.shown.errors[started.shown.errors.length - 1];
    if (why || result.code !== 0) ctx.lastFailure = { ...result, stderr: why ?? result.stderr };
  }
  return k;
}

function failure(ctx: DecodeContext, unique: readonly number[]): LosaError {
  const { info } = ctx;
  const result = ctx.lastFailure;
  if (result) {
    const why = lastErrorLine(result.stderr, ffmpegInput(info.path));
    return new LosaError(`${info.path}: cannot decode (${why || `ffmpeg exited with ${result.code ?? result.signal}`})`);
  }
  return new LosaError(`${info.path}: no readable frames (asked for frames ${unique[0]}–${unique[unique.length - 1]} of ${info.frameCount})`);
}

/** The segments of a decode with a frame table; a short segment hands the rest to decodeFromStart. */
async function* decodeBySegments(ctx: DecodeContext, table: FrameTable, unique: number[], track: (run: Promise<FfmpegProcess>) => void): AsyncGenerator<DecodedFrame, number> {
  const { info, options } = ctx;
  const frames = unique.filter((i) => i < table.times.length);
  const plan = table.seekable ? planSegments(table, frames, options.mergeGap ?? mergeGap(info.width, info.height)) : [{ start: -1, frames }];
  if (options.report) options.report.segments = plan;
  // One more segment at once than there are cores (up to SEGMENTS_AT_ONCE): a segment that
  // has decoded its frames waits, idle, until they are read, and with only as many as cores a
  // core sat idle behind it (on 2 cores, 8 seeks in a 10-minute clip: 713 ms with 2 at once,
  // 590 ms with 3).
  const ahead = Math.min(plan.length, os.availableParallelism() + 1, SEGMENTS_AT_ONCE) - 1;
  const runs: SegmentRun[] = [];
  const start = (s: number): SegmentRun => {
    if (!runs[s]) {
      runs[s] = startSegment(ctx, table, plan[s]!, options.threads ?? segmentThreads(plan, plan[s]!));
      track(runs[s]!.run);
    }
    return runs[s]!;
  };
  let read = 0;
  for (let s = 0; s < plan.length; s++) {
    const segment = plan[s]!;
    const current = start(s);
    for (let next = s + 1; next <= s + ahead && next < plan.length; next++) start(next); // seeking and decoding while this one is read
    const k = yield* segmentFrames(ctx, table, segment, current);
    read += k;
    if (k === segment.frames.length || options.signal?.aborted) continue;
    const from = seekSeconds(table, segment.start);
    const reason = `${info.path}: the segment ${from === undefined ? 'from the first frame' : `from ${from} s`} gave ${k} of ` +
      `${segment.frames.length} frames; decoding frames ${segment.frames[k]}… from the first frame instead`;
    debugLog(reason);
    if (options.report) options.report.fallback = reason;
    runs.forEach((r) => void r.run.then((p) => p.kill(), () => {}));
    return read + (yield* decodeFromStart(ctx, unique.filter((i) => i >= segment.frames[k]!), track));
  }
  return read;
}

/**
 * The frames `indices` (any order, repeats allowed) of a probed video, each once, in ascending
 * order, as they are decoded; each frame's array is reused for a later one (copy it to keep
 * it). A file that ends early yields the frames it has (the consumer repeats the last one);
 * no frame at all is an error naming the file.
 */
export async function* decodeFrameStream(info: VideoInfo, indices: readonly number[], options: DecodeOptions): AsyncGenerator<DecodedFrame> {
  const unique = checkRequest(info, indices, options);
  if (info.reader === 'sharp') {
    if (unique[0] !== 0) throw new LosaError(`${info.path}: no readable frames (an image has one frame, 0; asked for ${unique[0]}…)`);
    const crop = options.crop ?? { x: 0, y: 0, width: info.width, height: info.height };
    yield { index: 0, frame: await decodeImage(info.path, { ...options, crop }) };
    return;
  }
  const out = options.cropScaled ?? options;
  const frameBytes = out.width * out.height * 3;
  const ctx: DecodeContext = { info, options, passthrough: await passthroughArgs(), buffers: [new Uint8Array(frameBytes), new Uint8Array(frameBytes)] };
  const running: Promise<FfmpegProcess>[] = [];
  const killAll = (): void => running.forEach((p) => void p.then((run) => run.kill(), () => {}));
  options.signal?.addEventListener('abort', killAll, { once: true });
  try {
    const table = options.seek === false ? undefined : info.frames;
    const track = (run: Promise<FfmpegProcess>): void => void running.push(run);
    const read = table ? yield* decodeBySegments(ctx, table, unique, track) : yield* decodeFromStart(ctx, unique, track);
    if (options.signal?.aborted) throw new LosaError(`${info.path}: decoding stopped`);
    if (read === 0) throw failure(ctx, unique);
  } finally {
    options.signal?.removeEventListener('abort', killAll);
    killAll();
  }
}

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

/** All the frames `indices` at once (decodeFrameStream, collected): for a few frames; clips stream (stream.ts). */
export async function decodeFrames(info: VideoInfo, indices: readonly number[], options: DecodeOptions): Promise<DecodedFrames> {
  const unique = checkRequest(info, indices, options);
  const { width, height } = options.cropScaled ?? options;
  const frameBytes = width * height * 3;
  const frames = new Uint8Array(unique.length * frameBytes); // [U, H, W, 3]
  let read = 0;
  for await (const { frame } of decodeFrameStream(info, unique, options)) frames.set(frame, frameBytes * read++);
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
