// What a file is: how many frames, at what rate, at what size as displayed, and the frame table
// seeking needs. Images that sharp reads (recognised by their first bytes) are probed by sharp;
// videos by ffprobe: its stream header through fluent-ffmpeg, then the frame table (every
// frame's timestamp and the keyframes), which counts the frames exactly, also of
// variable-frame-rate, headerless (mkv, webm) and truncated files. MP4 and MOV files state it
// in their index, read directly (mp4-index.ts: a few ms whatever the length); other files get
// it from one demuxing pass over the video stream's packets (no decoding, but the whole file
// read: about 0.1 s for 200 MB from the page cache, seconds from a cold disk).
// Frame index i everywhere in losa means "the i-th frame the decoder outputs" (presentation
// order, starting at 0): the frame shown at frames.times[i].
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { debugLog } from '../debug.js';
import { LosaError } from '../errors.js';
import { isImagePath } from '../media.js';
import { ffmpegInput, lastErrorLine, listPackets, probeStreams, type ProbeData } from './ffmpeg.js';
import { FrameTableBuilder, type FrameTable } from './frame-table.js';
import { mp4FrameTable } from './mp4-index.js';
import { readHead, readImageHeader, sniffImage } from './image.js';

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
  /** When each frame is shown and which are keyframes; absent when seeking cannot be frame-exact (then decoding starts at the first frame). */
  frames?: FrameTable;
  /** Why there is no frame table (packets without timestamps, …). */
  framesProblem?: string;
  /** What decodes the file: sharp (still images it reads) or ffmpeg (videos, BMP). */
  reader?: 'sharp' | 'ffmpeg';
  /** Index of the video stream used (the first that is not cover art). */
  streamIndex?: number;
  /** True for a still image (one frame). */
  image?: boolean;
  /** File size in bytes. */
  bytes?: number;
}

// The extension lists live in src/media.ts (the data sets use them too).
export { IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, isImagePath, isMediaPath } from '../media.js';

/** Extra input options for still images: a literal file name, never an image-sequence pattern. */
export function imageInputOptions(file: string): string[] {
  return isImagePath(file) ? ['-f', 'image2', '-pattern_type', 'none'] : [];
}

/** A stream as fluent-ffmpeg parses ffprobe's output: numbers where they look like numbers. */
type ProbeStream = ProbeData['streams'][number] & {
  has_b_frames?: number | string;
  /** The display matrix's rotation (counter-clockwise degrees); fluent flattens side data into the stream. */
  rotation?: number | string;
};

function rate(text: string | number | undefined): number {
  if (text === undefined) return 0;
  const [num, den] = String(text).split('/').map(Number);
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
  if (stream.rotation !== undefined && stream.rotation !== '') clockwise = -Number(stream.rotation); // the matrix gives counter-clockwise degrees
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

/** Image extensions ffmpeg reads for losa (libvips has no BMP loader). */
const FFMPEG_IMAGE_EXTENSIONS: readonly string[] = ['.bmp'];

/** EXIF orientation → the clockwise turn it applies (mirrored orientations: their turn). */
const ORIENTATION_TURN: Record<number, number> = { 3: 180, 4: 180, 5: 90, 6: 90, 7: 270, 8: 270 };

/** A still image sharp reads: one frame, its size as displayed (EXIF orientation applied). */
async function probeImage(file: string, bytes: number): Promise<VideoInfo | undefined> {
  const header = await readImageHeader(file);
  if (header.format === 'gif' && header.pages > 1) return undefined; // an animated GIF is a video
  return {
    path: file, frameCount: 1, fps: 1, duration: 0, width: header.width, height: header.height,
    rotation: ORIENTATION_TURN[header.orientation] ?? 0, codec: header.format, pixFmt: header.layout,
    frameCountSource: 'header', streamIndex: 0, image: true, bytes, reader: 'sharp',
  };
}

/** The video stream used: the first that is not cover art. */
function videoStream(file: string, parsed: ProbeData): ProbeStream {
  const streams = (parsed.streams ?? []) as ProbeStream[];
  const videos = streams.filter((s) => s.codec_type === 'video');
  const stream = videos.find((s) => Number(s.disposition?.attached_pic ?? 0) !== 1);
  if (!stream) {
    const what = videos.length > 0 ? 'only cover art' : streams.length > 0 ? `only ${[...new Set(streams.map((s) => s.codec_type ?? 'unknown'))].join(', ')}` : 'no streams';
    throw new LosaError(`${file}: no video stream (${what})`);
  }
  if (parsed.format?.format_name === 'tty' || stream.codec_name === 'ansi') throw new LosaError(`${file}: not a video (a text file)`);
  return stream;
}

/** An ISO base media file (MP4, MOV, M4V, 3GP): an `ftyp` box first (or, in old QuickTime files, `moov`, `mdat`, `wide`). */
function isMp4(head: Uint8Array): boolean {
  const type = Buffer.from(head.subarray(4, 8)).toString('latin1');
  return head.length >= 8 && ['ftyp', 'moov', 'mdat', 'wide', 'free'].includes(type);
}

/** Frame tables of every video stream, from one demuxing pass over their packets. */
async function countFrames(file: string): Promise<Map<number, FrameTableBuilder>> {
  const builders = new Map<number, FrameTableBuilder>();
  const result = await listPackets(file, (stream, pts, flags) => {
    if (!builders.has(stream)) builders.set(stream, new FrameTableBuilder());
    builders.get(stream)!.add(pts, flags);
  });
  if (builders.size === 0 && result.code !== 0) {
    const why = lastErrorLine(result.stderr, ffmpegInput(file)) || `ffprobe ${result.signal ? `was killed by ${result.signal}` : `exited with ${result.code}`}`;
    throw new LosaError(`${file}: not a readable video (${why})`);
  }
  return builders;
}

/**
 * Containers where ffmpeg's seek lands between keyframes (it bisects by timestamps): frames
 * are still picked by time there, but decoding starts at the first frame.
 */
const UNSEEKABLE_FORMATS: readonly string[] = ['mpegts', 'mpeg', 'mpegvideo'];

/** The frame table of the stream used (ffmpeg backs its seeks off when any video stream has B-frames). */
function frameTable(builder: FrameTableBuilder | undefined, stream: ProbeStream, parsed: ProbeData): { table?: FrameTable; problem?: string } {
  if (!builder) return { problem: 'no packets' };
  const backoff = (parsed.streams as ProbeStream[]).some((s) => s.codec_type === 'video' && positive(s.has_b_frames) > 0);
  const seekable = !String(parsed.format?.format_name ?? '').split(',').some((f) => UNSEEKABLE_FORMATS.includes(f));
  return builder.build(rate(stream.time_base), backoff, seekable);
}

/** Probe a video (or image) file. Throws LosaError `<path>: <problem>`. */
export async function probeVideo(file: string): Promise<VideoInfo> {
  const bytes = await statMedia(file);
  const head = await readHead(file);
  const sniffed = sniffImage(head);
  if (sniffed !== undefined || (isImagePath(file) && !FFMPEG_IMAGE_EXTENSIONS.includes(path.extname(file).toLowerCase()))) {
    const info = await probeImage(file, bytes);
    if (info) return info;
  }
  const image = isImagePath(file);
  // MP4 and MOV files state their frame table in their index (mp4-index.ts): read after the
  // header, which says which track. Other files: the header and the packet pass are read by
  // two ffprobe processes at once.
  const mp4 = !image && isMp4(head);
  let packets = image || mp4 ? undefined : countFrames(file);
  packets?.catch(() => {}); // awaited below, unless the header fails first
  const parsed = await probeStreams(file, ['-v', 'error', ...imageInputOptions(file)]);
  const stream = videoStream(file, parsed);
  const storedWidth = positive(stream.width);
  const storedHeight = positive(stream.height);
  if (storedWidth === 0 || storedHeight === 0) throw new LosaError(`${file}: video stream has no frame size (corrupt?)`);
  const indexed = mp4 ? await mp4FrameTable(file, stream.index ?? 0, positive(stream.nb_frames)).catch(() => null) : null;
  if (mp4 && !indexed) {
    debugLog(`${file}: frame table by the packet pass (an MP4 index this reader does not follow)`);
    packets = countFrames(file);
  }
  const builder = indexed ?? (await packets)?.get(stream.index ?? 0);
  const counted = image ? undefined : frameTable(builder, stream, parsed);
  const timing = frameTiming(file, stream, parsed, image, builder);
  const rotation = rotationOf(stream);
  const turned = rotation === 90 || rotation === 270;
  return {
    path: file,
    ...timing,
    width: turned ? storedHeight : storedWidth,
    height: turned ? storedWidth : storedHeight,
    rotation,
    codec: stream.codec_name ?? 'unknown',
    pixFmt: stream.pix_fmt ?? 'unknown',
    ...(counted?.table ? { frames: counted.table } : {}),
    ...(counted?.problem ? { framesProblem: counted.problem } : {}),
    streamIndex: stream.index ?? 0,
    image,
    bytes,
    reader: 'ffmpeg',
  };
}

/** Frame count, rate and duration from the counted packets, else the header, else duration × fps. */
function frameTiming(
  file: string,
  stream: ProbeStream,
  parsed: ProbeData,
  image: boolean,
  counted: FrameTableBuilder | undefined,
): Pick<VideoInfo, 'frameCount' | 'fps' | 'duration' | 'frameCountSource'> {
  if (image) return { frameCount: 1, fps: 1, duration: 0, frameCountSource: 'header' };
  let fps = rate(stream.avg_frame_rate) || rate(stream.r_frame_rate);
  let duration = positive(stream.duration) || positive(parsed.format?.duration);
  let frameCount: number;
  let frameCountSource: VideoInfo['frameCountSource'];
  if (counted && counted.count > 0) {
    frameCount = counted.count;
    frameCountSource = 'packets';
  } else if (positive(stream.nb_frames) > 0) {
    frameCount = positive(stream.nb_frames);
    frameCountSource = 'header';
  } else {
    frameCount = Math.round(duration * fps);
    frameCountSource = 'duration';
  }
  if (!(frameCount > 0)) throw new LosaError(`${file}: no frames in the video stream (corrupt or truncated?)`);
  // Fewer packets than the header lists (those an edit list drops aside): the file was cut
  // short. Its frames keep their rate, and the duration is what can be read.
  const truncated = frameCountSource === 'packets' && positive(stream.nb_frames) > frameCount + counted!.discarded && fps > 0;
  if (truncated) duration = frameCount / fps;
  // A container's nominal rate can be far from the real one (variable frame rate in Matroska):
  // when counted frames over the duration disagree by more than 5%, the average wins.
  const average = !truncated && frameCountSource !== 'duration' && duration > 0 ? frameCount / duration : 0;
  if (average > 0 && !(fps > 0 && Math.abs(fps - average) / average <= 0.05)) fps = average;
  if (!(fps > 0)) fps = 25;
  if (!(duration > 0)) duration = frameCount / fps;
  return { frameCount, fps, duration, frameCountSource };
}
