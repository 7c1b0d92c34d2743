// One ffprobe call per file: how many frames, at what rate, at what size as displayed.
// Frame index i everywhere in losa means "the i-th frame the decoder outputs" (presentation
// order, starting at 0), which is also what ffmpeg's `select` filter counts as `n`.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LosaError } from '../errors.js';
import { ffmpegInput, lastErrorLine, runFfprobe } from './ffmpeg.js';
import { isImagePath } from '../media.js';

export interface VideoInfo {
  path: string;
  /** Frames the decoder will output (see `frameCountSource`). */
  frameCount: number;
  /** Average frame rate (frames per second); timestamps are index / fps. */
  fps: number;
  /** Seconds. */
  duration: number;
  /** Width as displayed, i.e. after `rotation` is applied. */
  width: number;
  /** Height as displayed, i.e. after `rotation` is applied. */
  height: number;
  /** Clockwise degrees (0, 90, 180 or 270) the stored frames are turned for display. */
  rotation: number;
  codec: string;
  pixFmt: string;
  /** Where `frameCount` came from: counted packets, the container's header, or duration × fps. */
  frameCountSource?: 'packets' | 'header' | 'duration';
  /** Index of the video stream used (the first that is not cover art). */
  streamIndex?: number;
  /** True for a still image (one frame). */
  image?: boolean;
  /** File size in bytes. */
  bytes?: number;
}

// The extension lists live in src/media.ts (the data sets use them too).
export { IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, isImagePath, isMediaPath } from '../media.js';

/**
 * ffprobe reads every packet (`-count_packets`, demuxing only, no decoding) for files up to
 * this size, which gives the exact number of readable frames even for variable-frame-rate,
 * headerless (mkv, webm) and truncated files; it costs a few milliseconds for a 10-second clip.
 * Larger files trust the container's frame count, else duration × fps.
 */
export const COUNT_PACKETS_MAX_BYTES = 512 * 1024 * 1024;

/** Extra input options for still images: a literal file name, never an image-sequence pattern. */
export function imageInputOptions(file: string): string[] {
  return isImagePath(file) ? ['-f', 'image2', '-pattern_type', 'none'] : [];
}

interface ProbeStream {
  index?: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  nb_read_packets?: string;
  duration?: string;
  disposition?: { attached_pic?: number };
  tags?: Record<string, string>;
  side_data_list?: { side_data_type?: string; rotation?: number | string }[];
}

interface ProbeOutput {
  streams?: ProbeStream[];
  format?: { format_name?: string; duration?: string };
}

function rate(text: string | undefined): number {
  if (!text) return 0;
  const [num, den] = text.split('/').map(Number);
  if (den === undefined) return Number.isFinite(num) ? num! : 0;
  return num! > 0 && den > 0 ? num! / den : 0;
}

function positive(text: string | number | undefined): number {
  const n = Number(text);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** Clockwise display rotation in {0, 90, 180, 270} from the display matrix or the old `rotate` tag. */
function rotationOf(stream: ProbeStream): number {
  let clockwise = 0;
  const matrix = stream.side_data_list?.find((d) => d.rotation !== undefined);
  if (matrix) clockwise = -Number(matrix.rotation); // the display matrix gives counter-clockwise degrees
  else if (stream.tags?.rotate !== undefined) clockwise = Number(stream.tags.rotate);
  if (!Number.isFinite(clockwise)) return 0;
  return (((Math.round(clockwise / 90) * 90) % 360) + 360) % 360;
}

/** Stat a media file and turn the usual failures into one-line errors naming it. */
export async function statMedia(file: string): Promise<number> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new LosaError(`${file}: no such file`);
    if (code === 'EACCES') throw new LosaError(`${file}: permission denied`);
    throw new LosaError(`${file}: cannot read (${code ?? (error as Error).message})`);
  }
  if (stat.isDirectory()) throw new LosaError(`${file}: is a directory, not a video`);
  if (!stat.isFile()) throw new LosaError(`${file}: not a regular file`);
  if (stat.size === 0) throw new LosaError(`${file}: empty file (0 bytes)`);
  return stat.size;
}

/** Probe a video (or image) file: one ffprobe call. Throws LosaError `<path>: <problem>`. */
export async function probeVideo(file: string): Promise<VideoInfo> {
  const bytes = await statMedia(file);
  const input = ffmpegInput(file);
  const image = isImagePath(file);
  const args = ['-v', 'error'];
  if (!image && bytes <= COUNT_PACKETS_MAX_BYTES) args.push('-count_packets');
  args.push('-show_streams', '-show_format', '-of', 'json', ...imageInputOptions(file), input);
  const result = await runFfprobe(args);
  if (result.code !== 0) {
    const why = lastErrorLine(result.stderr, input) || `ffprobe exited with ${result.code ?? result.signal}`;
    throw new LosaError(`${file}: not a readable video (${why})`);
  }
  let parsed: ProbeOutput;
  try {
    parsed = JSON.parse(result.stdout) as ProbeOutput;
  } catch {
    throw new LosaError(`${file}: ffprobe printed something that is not JSON`);
  }
  const streams = parsed.streams ?? [];
  const videos = streams.filter((s) => s.codec_type === 'video');
  const stream = videos.find((s) => s.disposition?.attached_pic !== 1);
  if (!stream) {
    const what = videos.length > 0 ? 'only cover art' : streams.length > 0 ? `only ${[...new Set(streams.map((s) => s.codec_type ?? 'unknown'))].join(', ')}` : 'no streams';
    throw new LosaError(`${file}: no video stream (${what})`);
  }
  const format = parsed.format?.format_name ?? '';
  if (format === 'tty' || stream.codec_name === 'ansi') throw new LosaError(`${file}: not a video (a text file)`);
  const storedWidth = positive(stream.width);
  const storedHeight = positive(stream.height);
  if (storedWidth === 0 || storedHeight === 0) throw new LosaError(`${file}: video stream has no frame size (corrupt?)`);

  const rotation = rotationOf(stream);
  const turned = rotation === 90 || rotation === 270;
  let fps = rate(stream.avg_frame_rate) || rate(stream.r_frame_rate);
  let duration = positive(stream.duration) || positive(parsed.format?.duration);
  let frameCount: number;
  let frameCountSource: VideoInfo['frameCountSource'];
  if (image) {
    frameCount = 1;
    fps = 1;
    duration = 0;
    frameCountSource = 'header';
  } else if (positive(stream.nb_read_packets) > 0) {
    frameCount = positive(stream.nb_read_packets);
    frameCountSource = 'packets';
  } else if (positive(stream.nb_frames) > 0) {
    frameCount = positive(stream.nb_frames);
    frameCountSource = 'header';
  } else {
    frameCount = Math.round(duration * fps);
    frameCountSource = 'duration';
  }
  if (!(frameCount > 0)) throw new LosaError(`${file}: no frames in the video stream (corrupt or truncated?)`);
  // Fewer packets than the header lists: the file was cut short. Its frames keep their rate, and
  // the duration is what can be read.
  const truncated = frameCountSource === 'packets' && positive(stream.nb_frames) > frameCount && fps > 0;
  if (truncated) duration = frameCount / fps;
  // A container's nominal rate can be far from the real one (variable frame rate in Matroska):
  // when counted frames over the duration disagree by more than 5%, the average wins.
  const average = !image && !truncated && frameCountSource !== 'duration' && duration > 0 ? frameCount / duration : 0;
  if (average > 0 && !(fps > 0 && Math.abs(fps - average) / average <= 0.05)) fps = average;
  if (!(fps > 0)) fps = 25;
  if (!(duration > 0) && !image) duration = frameCount / fps;
  return {
    path: file,
    frameCount,
    fps,
    duration,
    width: turned ? storedHeight : storedWidth,
    height: turned ? storedWidth : storedHeight,
    rotation,
    codec: stream.codec_name ?? 'unknown',
    pixFmt: stream.pix_fmt ?? 'unknown',
    frameCountSource,
    streamIndex: stream.index ?? 0,
    image,
    bytes,
  };
}
