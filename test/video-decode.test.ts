// Probing and decoding: each frame asked for is exactly that frame. Fixtures are generated
// here: frame i of a "grey" video is filled with level(i), so a decoded frame says which
// frame it is. Encodings are lossless, so levels survive within ±2.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames } from '../src/video/decode.js';
import { ffmpegInput, ffmpegPath, ffprobePath, readFfmpeg, resetFfmpegPaths, runFfmpeg } from '../src/video/ffmpeg.js';
import { probeVideo } from '../src/video/probe.js';
import { writeVideo } from '../src/video/synth.js';

const level = (i: number): number => 16 + 6 * i; // frames 0..39 → 16..250
const LOSSLESS_444 = ['-c:v', 'libx264', '-qp', '0', '-preset', 'ultrafast', '-pix_fmt', 'yuv444p'];
const LOSSLESS_420 = ['-c:v', 'libx264', '-qp', '0', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];

let dir: string;

function greyFrames(count: number, width: number, height: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => new Uint8Array(width * height * 3).fill(level(i)));
}

/** Which frame a decoded frame is: the nearest level to its mean (and how far it is). */
function whichFrame(frame: Uint8Array): { index: number; error: number } {
  let sum = 0;
  for (const v of frame) sum += v;
  const mean = sum / frame.length;
  const index = Math.max(0, Math.min(39, Math.round((mean - 16) / 6)));
  return { index, error: Math.abs(mean - level(index)) };
}

function expectFrames(decoded: Awaited<ReturnType<typeof decodeFrames>>, indices: number[]): void {
  const got = indices.map((i) => whichFrame(decoded.frameAt(i)));
  expect(got.map((g) => g.index)).toEqual(indices);
  for (const g of got) expect(g.error).toBeLessThan(2.5);
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-decode-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('constant frame rate', () => {
  it('probes and decodes exactly the frames asked for, in any order, with repeats', async () => {
    const file = path.join(dir, 'grey.mp4');
    await writeVideo(file, greyFrames(40, 64, 48), { width: 64, height: 48, fps: 10, codecArgs: LOSSLESS_420 });
    const info = await probeVideo(file);
    expect(info).toMatchObject({ frameCount: 40, fps: 10, width: 64, height: 48, rotation: 0, codec: 'h264', pixFmt: 'yuv420p' });
    expect(info.duration).toBeCloseTo(4, 1);
    const asked = [39, 0, 7, 7, 8, 9, 10, 23, 1, 38];
    const decoded = await decodeFrames(info, asked, { width: 16, height: 12 });
    expect(decoded.indices).toEqual([0, 1, 7, 8, 9, 10, 23, 38, 39]);
    expect(decoded.read).toBe(9);
    expect(decoded.frames.length).toBe(9 * 16 * 12 * 3);
    expectFrames(decoded, asked);
    // every single frame, one at a time is slow; all at once checks each index
    const all = Array.from({ length: 40 }, (_, i) => i);
    expectFrames(await decodeFrames(info, all, { width: 8, height: 6 }), all);
  });

  it('counts frames of a container without a frame count (Matroska)', async () => {
    const file = path.join(dir, 'grey.mkv');
    await writeVideo(file, greyFrames(25, 32, 32), { width: 32, height: 32, fps: 25, codecArgs: LOSSLESS_444, format: 'matroska' });
    const info = await probeVideo(file);
    expect(info).toMatchObject({ frameCount: 25, fps: 25, frameCountSource: 'packets', pixFmt: 'yuv444p' });
    expectFrames(await decodeFrames(info, [24, 3, 12], { width: 8, height: 8 }), [24, 3, 12]);
  });
});

describe('variable frame rate', () => {
  // Frames 0–19 are 100 ms apart, frames 20–39 30 ms apart: a frame-rate resampler would drop
  // or repeat frames; frame n must still be the n-th frame decoded.
  const setpts = 'setpts=if(lt(N\\,20)\\,N*10\\,200+(N-20)*3)'; // time base 1/100 s (input at 100 fps)
  for (const [name, format] of [['vfr.mp4', 'mp4'], ['vfr.mkv', 'matroska']] as const) {
    it(`decodes frame n as the n-th frame (${format})`, async () => {
      const file = path.join(dir, name);
      await writeVideo(file, greyFrames(40, 32, 24), {
        width: 32, height: 24, fps: 100, format, codecArgs: [...LOSSLESS_444, '-vf', setpts, '-vsync', 'passthrough'],
      });
      const info = await probeVideo(file);
      expect(info.frameCount).toBe(40);
      // the average rate over the real duration, whatever the container says
      expect(info.fps).toBeCloseTo(40 / info.duration, 6);
      expect(info.duration).toBeGreaterThan(2.4);
      expect(info.duration).toBeLessThan(2.7);
      const all = Array.from({ length: 40 }, (_, i) => i);
      expectFrames(await decodeFrames(info, all, { width: 8, height: 6 }), all);
      expectFrames(await decodeFrames(info, [2, 19, 20, 21, 33], { width: 8, height: 6 }), [2, 19, 20, 21, 33]);
    });
  }
});

describe('sources of every kind', () => {
  it('odd sizes in 4:4:4, to an odd output size', async () => {
    const file = path.join(dir, 'odd.mp4');
    await writeVideo(file, greyFrames(12, 63, 47), { width: 63, height: 47, fps: 12, codecArgs: LOSSLESS_444 });
    const info = await probeVideo(file);
    expect(info).toMatchObject({ width: 63, height: 47, frameCount: 12, pixFmt: 'yuv444p' });
    const decoded = await decodeFrames(info, [11, 5], { width: 33, height: 25 });
    expect(decoded.frames.length).toBe(2 * 33 * 25 * 3);
    expectFrames(decoded, [11, 5]);
  });

  it('10-bit video', async () => {
    const file = path.join(dir, 'ten.mp4');
    await writeVideo(file, greyFrames(12, 64, 48), {
      width: 64, height: 48, fps: 12, codecArgs: ['-c:v', 'libx264', '-qp', '0', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p10le'],
    });
    const info = await probeVideo(file);
    expect(info.pixFmt).toBe('yuv420p10le');
    expectFrames(await decodeFrames(info, [0, 6, 11], { width: 16, height: 12 }), [0, 6, 11]);
  });

  it('crops a region of the displayed frame before scaling', async () => {
    // Left half black, right half white: a crop of the right half is all white.
    const w = 40;
    const h = 20;
    const frame = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = w / 2; x < w; x++) frame.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const file = path.join(dir, 'halves.mp4');
    await writeVideo(file, [frame, frame], { width: w, height: h, fps: 5, codecArgs: LOSSLESS_444 });
    const info = await probeVideo(file);
    const right = await decodeFrames(info, [1], { width: 8, height: 8, crop: { x: 21, y: 1, width: 18, height: 18 } });
    expect(Math.min(...right.frameAt(1))).toBeGreaterThan(240);
    const left = await decodeFrames(info, [1], { width: 8, height: 8, crop: { x: 1, y: 1, width: 18, height: 18 } });
    expect(Math.max(...left.frameAt(1))).toBeLessThan(15);
  });
});

describe('rotation metadata', () => {
  // Stored frame: red top-left, green top-right, blue bottom-left, white bottom-right.
  const W = 32;
  const H = 24;
  const colors = { red: [255, 0, 0], green: [0, 255, 0], blue: [0, 0, 255], white: [255, 255, 255] } as const;
  type Color = keyof typeof colors;
  const stored: Color[][] = [['red', 'green'], ['blue', 'white']];
  const quadrantFrame = (): Uint8Array => {
    const f = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) f.set(colors[stored[y < H / 2 ? 0 : 1]![x < W / 2 ? 0 : 1]!], (y * W + x) * 3);
    return f;
  };
  /** The 2×2 grid turned `degrees` clockwise: new[r][c] = old[n−1−c][r] per quarter turn. */
  const turn = (grid: Color[][], degrees: number): Color[][] => {
    let g = grid;
    for (let k = 0; k < degrees / 90; k++) g = [[g[1]![0]!, g[0]![0]!], [g[1]![1]!, g[0]![1]!]];
    return g;
  };
  const nearest = (rgb: number[]): Color =>
    (Object.keys(colors) as Color[]).reduce((best, c) => {
      const d = (k: Color): number => colors[k].reduce((s: number, v, i) => s + (v - rgb[i]!) ** 2, 0);
      return d(c) < d(best) ? c : best;
    });

  let base: string;
  beforeAll(async () => {
    base = path.join(dir, 'quadrants.mp4');
    await writeVideo(base, [quadrantFrame(), quadrantFrame(), quadrantFrame()], { width: W, height: H, fps: 3, codecArgs: LOSSLESS_444 });
  });

  for (const tag of ['90', '180', '270']) {
    it(`honours a display matrix (rotate=${tag})`, async () => {
      const file = path.join(dir, `rot ${tag} é.mp4`);
      const r = await runFfmpeg(['-loglevel', 'error', '-y', '-i', ffmpegInput(base), '-c', 'copy', '-metadata:s:v:0', `rotate=${tag}`, ffmpegInput(file)]);
      expect(r.code).toBe(0);
      const info = await probeVideo(file);
      expect(info.rotation).not.toBe(0);
      const turned = info.rotation % 180 === 90;
      expect([info.width, info.height]).toEqual(turned ? [H, W] : [W, H]);
      const decoded = await decodeFrames(info, [1], { width: info.width, height: info.height });
      const frame = decoded.frameAt(1);
      const at = (x: number, y: number): Color => nearest([...frame.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)]);
      const seen = [[at(2, 2), at(info.width - 3, 2)], [at(2, info.height - 3), at(info.width - 3, info.height - 3)]];
      expect(seen).toEqual(turn(stored, info.rotation));
      // ffmpeg's own autorotation of the same file agrees pixel for pixel.
      const all = await readFfmpeg(['-loglevel', 'error', '-i', ffmpegInput(file), '-frames:v', '3', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
      const reference = all.stdout.subarray(W * H * 3, 2 * W * H * 3);
      const diff = reference.reduce((m, v, i) => Math.max(m, Math.abs(v - frame[i]!)), 0);
      expect(diff).toBeLessThanOrEqual(2);
    });
  }
});

describe('partly readable and unreadable files', () => {
  it('yields the frames a truncated file has and repeats the last one read', async () => {
    const whole = path.join(dir, 'whole.mp4');
    // noise makes frames large, so cutting the file cuts frames (faststart: index first)
    const frames = greyFrames(40, 64, 48).map((f, i) => {
      for (let k = 0; k < f.length; k += 7) f[k] = (f[k]! + ((k * 31 + i * 17) % 5)) & 255;
      return f;
    });
    await writeVideo(whole, frames, { width: 64, height: 48, fps: 10, codecArgs: [...LOSSLESS_444, '-movflags', '+faststart'] });
    const bytes = await fs.readFile(whole);
    const cut = path.join(dir, 'cut.mp4');
    await fs.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.5)));
    const info = await probeVideo(cut);
    expect(info.frameCount).toBeGreaterThan(5);
    expect(info.frameCount).toBeLessThan(40);
    // the frames that remain keep their rate; the duration is theirs
    expect(info.fps).toBe(10);
    expect(info.duration).toBeCloseTo(info.frameCount / 10, 9);
    const asked = [0, 5, 30, 39];
    const decoded = await decodeFrames(info, asked, { width: 16, height: 12 });
    expect(decoded.read).toBe(2);
    expectFrames(decoded, [0, 5]);
    // the missing tail repeats the last frame read
    expect(whichFrame(decoded.frameAt(30)).index).toBe(5);
    expect(whichFrame(decoded.frameAt(39)).index).toBe(5);
  });

  it('is an error naming the file when no frame can be read', async () => {
    const whole = path.join(dir, 'whole.mp4');
    const info = await probeVideo(whole);
    // a file whose frames all lie beyond the end: nothing to give back
    const cut = path.join(dir, 'header only.mp4');
    const bytes = await fs.readFile(whole);
    await fs.writeFile(cut, bytes.subarray(0, 2000));
    await expect(probeVideo(cut).then((i) => decodeFrames(i, [0, 1], { width: 8, height: 8 }))).rejects.toThrow(cut);
    // frames past the end of a readable file
    await expect(decodeFrames({ ...info, frameCount: 100 }, [60, 70], { width: 8, height: 8 })).rejects.toThrow(/no readable frames/);
  });
});

describe('binaries', () => {
  it('FFMPEG_PATH / FFPROBE_PATH override the npm-shipped binaries', async () => {
    const shipped = { ffmpeg: await ffmpegPath(), ffprobe: await ffprobePath() };
    const file = path.join(dir, 'grey.mp4');
    const saved = { ffmpeg: process.env.FFMPEG_PATH, ffprobe: process.env.FFPROBE_PATH };
    try {
      process.env.FFPROBE_PATH = path.join(dir, 'no-such-ffprobe');
      resetFfmpegPaths();
      await expect(probeVideo(file)).rejects.toThrow(`${path.join(dir, 'no-such-ffprobe')}: FFPROBE_PATH does not name an executable ffprobe`);
      process.env.FFPROBE_PATH = shipped.ffprobe;
      process.env.FFMPEG_PATH = shipped.ffmpeg;
      resetFfmpegPaths();
      const info = await probeVideo(file);
      expect((await decodeFrames(info, [3], { width: 4, height: 3 })).read).toBe(1);
    } finally {
      for (const [key, value] of [['FFMPEG_PATH', saved.ffmpeg], ['FFPROBE_PATH', saved.ffprobe]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      resetFfmpegPaths();
    }
  });
});
