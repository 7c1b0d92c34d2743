// `losa frames` through the CLI entry point: PNGs exactly as the model sees them, the --json
// shape, awkward file names, and every kind of bad input → one line naming the file, exit 1.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { createRng } from '../src/random.js';
import { loadClips } from '../src/video/clip.js';
import { ffmpegInput, runFfmpeg } from '../src/video/ffmpeg.js';
import { writeVideo } from '../src/video/synth.js';
import { TRAIN_DEFAULTS } from '../src/train/options.js';
import { trainingPlan } from '../src/train/views.js';

let dir: string;
let good: string;

const losa = (...argv: string[]) => runCli(argv, dir);

/** A 2-second 15 fps clip whose frames differ (a moving bar) at 96×64; `noisy`: every frame costs about as many bytes. */
async function makeVideo(file: string, count = 30, codecArgs?: string[], noisy = false): Promise<void> {
  const frames = Array.from({ length: count }, (_, i) => {
    const f = new Uint8Array(96 * 64 * 3).fill(40);
    if (noisy) for (let k = 0; k < f.length; k++) f[k] = (k * 2654435761 + i * 40503) % 61;
    for (let y = 10; y < 54; y++) for (let x = 2 * i; x < 2 * i + 8; x++) f.set([250, 200, 10], (y * 96 + x) * 3);
    return f;
  });
  await writeVideo(file, frames, { width: 96, height: 64, fps: 15, codecArgs });
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-cli-frames-'));
  good = path.join(dir, 'good.mp4');
  await makeVideo(good);
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('losa frames', () => {
  it('--json prints frameCount, fps and per-view indices and files; PNGs are the clip frames', async () => {
    const r = await losa('frames', 'good.mp4', '--out', 'out', '--num-frames', '4', '--image-size', '48', '--views', '2', '--crops', '3', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout) as { frameCount: number; fps: number; views: { indices: number[]; files: string[]; view: number; crop: number }[] };
    expect(json.frameCount).toBe(30);
    expect(json.fps).toBe(15);
    expect(json.views).toHaveLength(6);
    const { clips } = await loadClips(good, { numFrames: 4, size: 48, mode: 'test', views: 2, crops: 3 }, createRng(0));
    json.views.forEach((v, k) => {
      expect(v.indices).toEqual(clips[k]!.indices);
      expect([v.view, v.crop]).toEqual([clips[k]!.view, clips[k]!.crop]);
      expect(v.files).toHaveLength(4);
    });
    // every PNG holds exactly the bytes the model gets (before normalisation)
    for (const [k, v] of json.views.entries()) {
      for (const [t, file] of v.files.entries()) {
        const { data: rgb, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
        expect([info.width, info.height, info.channels]).toEqual([48, 48, 3]);
        expect(rgb.equals(Buffer.from(clips[k]!.frames.subarray(t * rgb.length, (t + 1) * rgb.length)))).toBe(true);
      }
    }
  });

  it('prints indices and timestamps per view in text mode, and train mode draws the view training draws', async () => {
    const r = await losa('frames', good, '-o', path.join(dir, 'text'), '--mode', 'train', '--num-frames', '3', '--image-size', '32', '--seed', '5', '--flip');
    expect(r.status).toBe(0);
    const plan = trainingPlan({ ...TRAIN_DEFAULTS, numFrames: 3, size: 32, flip: true, seed: 5 }, good, 0);
    const { clips } = await loadClips(good, plan.clip, createRng(plan.seed));
    expect(r.stdout).toContain(`  indices    ${clips[0]!.indices.join(' ')}`);
    expect(r.stdout).toContain(`  timestamps ${clips[0]!.indices.map((i) => (i / 15).toFixed(3)).join(' ')}`);
    expect(r.stdout).toMatch(/wrote 3 PNG files/);
  });

  it('takes the old spelling --size with a one-line deprecation note', async () => {
    const r = await losa('frames', 'good.mp4', '--out', 'old', '--num-frames', '2', '--size', '16', '--json');
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('losa: note: --size is deprecated; use --image-size\n');
    expect(JSON.parse(r.stdout).size).toBe(16);
  });

  it('--help lists every option with its default, and no deprecated spelling', async () => {
    const r = await losa('frames', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--crop-scale MIN,MAX\s+training: area range of the random resized crop \(default 0\.7,1\)/);
    expect(r.stdout).toMatch(/--image-size S\s+side of the square frames the backbone sees, in pixels \(default 224\)/);
    expect(r.stdout).not.toMatch(/--size\b/);
  });

  it('reads names with spaces, non-ASCII characters and a leading dash', async () => {
    for (const name of ['my clip é 東京.mp4', '-x.mp4', '-i.mp4']) await fs.copyFile(good, path.join(dir, name));
    const spaced = await losa('frames', 'my clip é 東京.mp4', '--out', 'o1', '--num-frames', '2', '--image-size', '16', '--json');
    expect(spaced.status).toBe(0);
    expect(JSON.parse(spaced.stdout).views[0].files).toHaveLength(2);
    const dashed = await losa('frames', '--out', 'o2', '--num-frames', '2', '--image-size', '16', '--', '-x.mp4');
    expect(dashed.status).toBe(0);
    const after = await losa('frames', '--', '-i.mp4', '--out', 'o3', '--num-frames', '2', '--image-size', '16', '--json');
    expect(after.stderr).toBe('');
    expect(JSON.parse(after.stdout).frameCount).toBe(30);
    const dotted = await losa('frames', './-x.mp4', '--out', 'o4', '--num-frames', '2', '--image-size', '16');
    expect(dotted.status).toBe(0);
    // without `--`, a leading dash is an option: a usage error, exit 2
    const bare = await losa('frames', '-x.mp4', '--out', 'o5');
    expect(bare.status).toBe(2);
  });
});

describe('bad input: one line naming the file, exit status 1', () => {
  const cases: { name: string; make: (file: string) => Promise<void>; reason: RegExp }[] = [
    { name: 'missing.mp4', make: async () => {}, reason: /no such file/ },
    { name: 'empty.mp4', make: (f) => fs.writeFile(f, ''), reason: /empty file/ },
    { name: 'notes.mp4', make: (f) => fs.writeFile(f, 'this is not a video\n'), reason: /not a readable video \(Invalid data/ },
    { name: 'data.json', make: (f) => fs.writeFile(f, '{"a": 1}\n'), reason: /not a readable video/ },
    { name: 'random bytes.mp4', make: (f) => fs.writeFile(f, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251))), reason: /not a readable video/ },
    {
      // index at the end (no faststart): cutting the end loses it, nothing is readable
      name: 'truncated.mp4',
      make: async (f) => {
        const whole = path.join(dir, 'index-at-end.mp4');
        await makeVideo(whole, 30, ['-c:v', 'libx264', '-pix_fmt', 'yuv420p']);
        const bytes = await fs.readFile(whole);
        await fs.writeFile(f, bytes.subarray(0, Math.floor(bytes.length / 2)));
      },
      reason: /not a readable video \(Invalid data/,
    },
    {
      // a valid header over garbage frames
      name: 'corrupt.mp4',
      make: async (f) => {
        const bytes = Buffer.from(await fs.readFile(good));
        const mdat = bytes.indexOf('mdat');
        for (let k = mdat + 8; k < bytes.length; k++) bytes[k] = (k * 7919) % 251;
        await fs.writeFile(f, bytes);
      },
      reason: /cannot decode|no readable frames|not a readable video/,
    },
    {
      name: 'audio only.m4a',
      make: async (f) => {
        const r = await runFfmpeg(['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=d=0.5', '-c:a', 'aac', ffmpegInput(f)]);
        expect(r.code).toBe(0);
      },
      reason: /no video stream \(only audio\)/,
    },
    { name: 'a folder.mp4', make: (f) => fs.mkdir(f), reason: /is a directory/ },
    { name: 'bad é 東京 clip.mp4', make: (f) => fs.writeFile(f, 'nope'), reason: /not a readable video/ },
    { name: '-bad.mp4', make: (f) => fs.writeFile(f, ''), reason: /empty file/ },
  ];
  it.each(cases)('$name', async ({ name, make, reason }) => {
    const file = path.join(dir, name);
    await make(file);
    const r = name.startsWith('-') ? await losa('frames', '--out', 'bad', '--', name) : await losa('frames', name, '--out', 'bad');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith(`losa: error: ${file}: `)).toBe(true);
    expect(lines[0]!).toMatch(reason);
  });

  it('a partly readable file gives the frames it has', async () => {
    const whole = path.join(dir, 'faststart.mp4');
    await makeVideo(whole, 30, ['-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv444p', '-movflags', '+faststart'], true);
    const bytes = await fs.readFile(whole);
    const cut = path.join(dir, 'cut short.mp4');
    await fs.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const r = await losa('frames', cut, '--out', 'partial', '--num-frames', '4', '--image-size', '16', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout) as { frameCount: number; views: { indices: number[] }[] };
    expect(json.frameCount).toBeGreaterThan(4);
    expect(json.frameCount).toBeLessThan(30);
    expect(Math.max(...json.views[0]!.indices)).toBeLessThan(json.frameCount);
  });

  it('usage errors exit 2', async () => {
    expect((await losa('frames', good)).status).toBe(2); // no --out
    expect((await losa('frames', good, '--out', 'x', '--crops', '2')).status).toBe(2);
    expect((await losa('frames', good, '--out', 'x', '--mode', 'eval')).status).toBe(2);
    expect((await losa('frames', good, 'other.mp4', '--out', 'x')).status).toBe(2);
  });
});
