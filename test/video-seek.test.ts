// Seeking is frame-exact: frames decoded by segments that start at keyframes are, byte for
// byte, the frames a plain ffmpeg decode of the whole file gives at those positions. Fixtures
// cover B-frames, open GOPs, variable frame rates (setpts and concatenated rates), an edit list
// that drops frames and VP9; testsrc2 makes every frame different, so equal bytes mean the
// same frame.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setDebugLog } from '../src/debug.js';
import { decodeFrames, segmentThreads, THREADED_SEGMENT_FRAMES, type DecodeReport } from '../src/video/decode.js';
import { ffmpegInput, readFfmpeg, runFfmpeg } from '../src/video/ffmpeg.js';
import { probeVideo, type VideoInfo } from '../src/video/probe.js';

const W = 32;
const H = 24;
const FRAME = W * H * 3;
let dir: string;

async function make(name: string, args: string[]): Promise<string> {
  const file = path.join(dir, name);
  const r = await runFfmpeg(['-loglevel', 'error', '-y', ...args, ffmpegInput(file)]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return file;
}

const SOURCE = ['-f', 'lavfi', '-i', 'testsrc2=s=160x120:r=25:d=16'];
const X264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-bf', '3'];

/** Every frame of a file from one plain ffmpeg decode (no seek, no select): the reference. */
async function reference(file: string): Promise<Buffer[]> {
  const r = await readFfmpeg([
    '-loglevel', 'error', '-i', ffmpegInput(file), '-map', '0:v:0', '-vf', `scale=${W}:${H}:flags=bicubic`,
    '-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ]);
  expect(r.code).toBe(0);
  const frames = Array.from({ length: r.stdout.length / FRAME }, (_, i) => r.stdout.subarray(i * FRAME, (i + 1) * FRAME));
  expect(new Set(frames.map((f) => f.toString('base64'))).size).toBe(frames.length); // all different
  return frames;
}

/** Frames spread over the file, plus those around some keyframes (open-GOP leading frames sit just before one). */
function framesToAsk(info: VideoInfo): number[] {
  const n = info.frameCount;
  const keys = [...info.frames!.keyframes].filter((k) => k > 0);
  const around = keys.filter((_, i) => i % 3 === 1).flatMap((k) => [k - 3, k - 1, k, k + 1]);
  const spread = Array.from({ length: 8 }, (_, i) => Math.floor(((i + 0.5) * n) / 8));
  return [...new Set([...around, ...spread, n - 1])].filter((i) => i >= 0 && i < n).sort((a, b) => a - b);
}

async function expectExact(file: string): Promise<DecodeReport> {
  const info = await probeVideo(file);
  const frames = await reference(file);
  expect(info.frameCount).toBe(frames.length);
  expect(info.frames, info.framesProblem).toBeDefined();
  const asked = framesToAsk(info);
  const report: DecodeReport = {};
  const decoded = await decodeFrames(info, asked, { width: W, height: H, report, mergeGap: 0 });
  expect(report.fallback).toBeUndefined();
  expect(decoded.read).toBe(asked.length);
  const wrong = asked.filter((i) => !Buffer.from(decoded.frameAt(i)).equals(frames[i]!));
  expect(wrong).toEqual([]);
  // it did seek: several segments, most starting at a keyframe past the first frame
  expect(report.segments!.length).toBeGreaterThan(3);
  expect(report.segments!.filter((s) => s.start > 0).length).toBeGreaterThan(2);
  for (const s of report.segments!) if (s.start > 0) expect(info.frames!.keyframes).toContain(s.start);
  return report;
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-seek-'));
});
afterAll(async () => {
  setDebugLog(undefined);
  await fs.rm(dir, { recursive: true, force: true });
});

describe('frame-exact seeking', () => {
  it('B-frames, closed GOPs (mp4)', async () => {
    await expectExact(await make('closed.mp4', [...SOURCE, ...X264, '-g', '24', '-keyint_min', '24', '-sc_threshold', '0']));
  });

  it('open GOPs (mp4 and mkv)', async () => {
    const openGop = [...SOURCE, ...X264, '-x264-params', 'open-gop=1:keyint=24:min-keyint=24:scenecut=0'];
    await expectExact(await make('open.mp4', openGop));
    await expectExact(await make('open.mkv', openGop));
  });

  it('variable frame rate from setpts (mkv and mp4)', async () => {
    // 25 fps for 100 frames, then 10 fps, then about 30 fps, in a 1 ms time base
    const setpts = "settb=1/1000,setpts='if(lt(N,100),N*40,if(lt(N,200),4000+(N-100)*100,14000+(N-200)*33))'";
    const vfr = [...SOURCE, '-vf', setpts, '-vsync', 'vfr', ...X264, '-g', '20', '-enc_time_base', '1/1000'];
    for (const name of ['vfr.mkv', 'vfr.mp4']) {
      const file = await make(name, vfr);
      await expectExact(file);
      const info = await probeVideo(file);
      const gaps = Array.from(info.frames!.times.subarray(1), (t, i) => t - info.frames!.times[i]!);
      expect(Math.min(...gaps)).toBeLessThan(0.035);
      expect(Math.max(...gaps)).toBeGreaterThan(0.09);
    }
  });

  it('variable frame rate from concatenated 25, 10 and 30 fps parts (mp4)', async () => {
    const parts = [];
    for (const [i, rate] of [25, 10, 30].entries()) {
      parts.push(await make(`part${i}.mp4`, ['-f', 'lavfi', '-i', `testsrc2=s=160x120:r=${rate}:d=5`, ...X264, '-g', String(rate), '-video_track_timescale', '15360']));
    }
    const list = path.join(dir, 'parts.txt');
    await fs.writeFile(list, parts.map((p) => `file '${p}'\n`).join(''));
    await expectExact(await make('rates.mp4', ['-f', 'concat', '-safe', '0', '-i', ffmpegInput(list), '-c', 'copy']));
  });

  it('an edit list that drops the frames before a cut (mp4 cut with -c copy)', async () => {
    const whole = await make('whole.mp4', [...SOURCE, ...X264, '-g', '24', '-keyint_min', '24', '-sc_threshold', '0']);
    const cut = await make('cut.mp4', ['-ss', '3.3', '-i', ffmpegInput(whole), '-c', 'copy']);
    await expectExact(cut);
  });

  it('long segments on ffmpeg\'s frame threads and short ones on one thread, side by side (mp4)', async () => {
    const file = await make('long-gops.mp4', [...SOURCE, ...X264, '-g', '120', '-keyint_min', '120', '-sc_threshold', '0']);
    const info = await probeVideo(file);
    const frames = await reference(file);
    const asked = [5, 60, 110, 125, 250, 330, 399];
    const report: DecodeReport = {};
    const decoded = await decodeFrames(info, asked, { width: W, height: H, report, mergeGap: 0 });
    expect(report.fallback).toBeUndefined();
    expect(asked.filter((i) => !Buffer.from(decoded.frameAt(i)).equals(frames[i]!))).toEqual([]);
    const plan = report.segments!;
    expect(plan.map((s) => s.start)).toEqual([0, 120, 240, 360]);
    expect(plan.map((s) => segmentThreads(plan, s))).toEqual([undefined, 1, undefined, 1]);
  });

  it('VP9 in WebM', async () => {
    await expectExact(await make('vp9.webm', [...SOURCE, '-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-g', '30']));
  });
});

describe('when a seek comes up short', () => {
  it('decodes the rest from the first frame, with the same frames, and says so under --debug', async () => {
    const file = path.join(dir, 'closed.mp4');
    const info = await probeVideo(file);
    const frames = await reference(file);
    const table = info.frames!;
    // Timestamps half a frame off: no segment finds the frames it asks for.
    const shifted = { ...info, frames: { ...table, times: table.times.map((t) => t + 0.02) } };
    const lines: string[] = [];
    setDebugLog((line) => lines.push(line));
    const report: DecodeReport = {};
    const asked = [30, 150, 151, 390];
    const decoded = await decodeFrames(shifted, asked, { width: W, height: H, report, mergeGap: 0 });
    setDebugLog(undefined);
    expect(asked.filter((i) => !Buffer.from(decoded.frameAt(i)).equals(frames[i]!))).toEqual([]);
    expect(report.fallback).toMatch(/closed\.mp4: the segment .* gave 0 of 1 frames; decoding frames 30… from the first frame instead/);
    expect(lines).toEqual([report.fallback]);
  });

  it('decodes a container whose seeks are not keyframe-exact (MPEG-TS) from its first frame, still by time', async () => {
    const file = path.join(dir, 'open.mkv');
    const info = await probeVideo(file);
    expect(info.frames!.seekable).toBe(true);
    const frames = await reference(file);
    const report: DecodeReport = {};
    const asked = [7, 150, 380];
    const decoded = await decodeFrames({ ...info, frames: { ...info.frames!, seekable: false } }, asked, { width: W, height: H, report, mergeGap: 0 });
    expect(report.segments).toEqual([{ start: -1, frames: asked }]);
    expect(report.fallback).toBeUndefined();
    expect(asked.every((i) => Buffer.from(decoded.frameAt(i)).equals(frames[i]!))).toBe(true);
  });

  it('decodes from the first frame when asked not to seek', async () => {
    const file = path.join(dir, 'open.mp4');
    const info = await probeVideo(file);
    const frames = await reference(file);
    const report: DecodeReport = {};
    const decoded = await decodeFrames(info, [5, 200, 399], { width: W, height: H, seek: false, report });
    expect(report.segments).toBeUndefined();
    expect([5, 200, 399].every((i) => Buffer.from(decoded.frameAt(i)).equals(frames[i]!))).toBe(true);
  });
});

describe('segmentThreads', () => {
  const seg = (start: number, frames: number[]) => ({ start, frames });
  const long = THREADED_SEGMENT_FRAMES;
  it.each([
    ['a lone segment, short', [seg(-1, [3])], 0, undefined],
    ['a lone segment, long', [seg(100, [150, 400])], 0, undefined],
    ['one of several, short', [seg(-1, [3]), seg(100, [110])], 1, 1],
    ['one of several, just short of the threshold (from the first frame)', [seg(-1, [long - 2]), seg(100, [110])], 0, 1],
    ['one of several, at the threshold (from the first frame)', [seg(-1, [long - 1]), seg(100, [110])], 0, undefined],
    ['one of several, at the threshold (from a keyframe)', [seg(-1, [3]), seg(100, [120, 100 + long - 1])], 1, undefined],
  ] as const)('%s', (_name, plan, index, threads) => {
    expect(segmentThreads(plan.map((s) => ({ start: s.start, frames: [...s.frames] })), plan[index]!)).toBe(threads);
  });
});
