// The synthetic data set: each class played backwards is its partner, each class moves the way
// its name says, the output is the same for a seed, and `losa data synth` writes the layout.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { probeVideo } from '../src/video/probe.js';
import {
  clipParams, renderClipFrames, synthDataset, synthMotion, synthPartner, SYNTH_CLASSES, type SceneParams, type SynthClass,
} from '../src/video/synth.js';

const W = 96;
const H = 72;
const N = 12;
let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-synth-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('time reversal', () => {
  it('pairs partners in the fixed class order', () => {
    expect(SYNTH_CLASSES.slice(0, 4)).toEqual(['moving-left', 'moving-right', 'rotating-cw', 'rotating-ccw']);
    for (const name of SYNTH_CLASSES) {
      expect(synthPartner(synthPartner(name))).toBe(name);
      expect(synthMotion(synthPartner(name)).motion).toBe(synthMotion(name).motion);
      expect(synthMotion(synthPartner(name)).reversed).toBe(!synthMotion(name).reversed);
    }
  });

  it.each(SYNTH_CLASSES.filter((_, i) => i % 2 === 0))('%s played backwards is its partner, frame for frame', (name) => {
    const partner = synthPartner(name);
    for (let clip = 0; clip < 3; clip++) {
      // the same random parameters (noise included) for both classes
      const params = clipParams(7, 'train', name, clip, W, H);
      const forward = renderClipFrames(name, params, N, W, H);
      const backward = renderClipFrames(partner, params, N, W, H).reverse();
      expect(forward.map((f, j) => Buffer.from(f).equals(Buffer.from(backward[j]!)))).toEqual(new Array(N).fill(true));
      // and the clip does change over time
      expect(Buffer.from(forward[0]!).equals(Buffer.from(forward[N - 1]!))).toBe(false);
    }
  });
});

describe('each class shows its motion', () => {
  /** Pixels that differ from the (noise-free) background: the object, and its marker. */
  function measure(frames: Uint8Array[], p: SceneParams): { cx: number; cy: number; area: number; mx: number; my: number }[] {
    return frames.map((f) => {
      let area = 0, sx = 0, sy = 0, marker = 0, mx = 0, my = 0;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const o = (y * W + x) * 3;
          const rgb = [f[o]!, f[o + 1]!, f[o + 2]!];
          if (rgb.every((v, c) => v === p.background[c])) continue;
          area++;
          sx += x;
          sy += y;
          if (rgb.every((v, c) => v === p.marker[c])) {
            marker++;
            mx += x;
            my += y;
          }
        }
      }
      return { cx: sx / area, cy: sy / area, area, mx: mx / marker, my: my / marker };
    });
  }
  const increasing = (v: number[]): boolean => v.every((x, i) => i === 0 || x > v[i - 1]!);
  const decreasing = (v: number[]): boolean => increasing(v.map((x) => -x));
  /** Angles around a centre, unwrapped; y points down, so growing angles turn clockwise on screen. */
  const angles = (points: { x: number; y: number }[], cx: number, cy: number): number[] => {
    const out: number[] = [];
    for (const p of points) {
      let a = Math.atan2(p.y - cy, p.x - cx);
      if (out.length > 0) while (a - out[out.length - 1]! > Math.PI) a -= 2 * Math.PI;
      if (out.length > 0) while (a - out[out.length - 1]! < -Math.PI) a += 2 * Math.PI;
      out.push(a);
    }
    return out;
  };
  const checks: Record<SynthClass, (m: ReturnType<typeof measure>, p: SceneParams) => boolean> = {
    'moving-right': (m) => increasing(m.map((s) => s.cx)),
    'moving-left': (m) => decreasing(m.map((s) => s.cx)),
    'moving-down': (m) => increasing(m.map((s) => s.cy)),
    'moving-up': (m) => decreasing(m.map((s) => s.cy)),
    growing: (m) => increasing(m.map((s) => s.area)),
    shrinking: (m) => decreasing(m.map((s) => s.area)),
    'rotating-cw': (m, p) => increasing(angles(m.map((s) => ({ x: s.mx, y: s.my })), p.from[0], p.from[1])),
    'rotating-ccw': (m, p) => decreasing(angles(m.map((s) => ({ x: s.mx, y: s.my })), p.from[0], p.from[1])),
    'orbiting-cw': (m, p) => increasing(angles(m.map((s) => ({ x: s.cx, y: s.cy })), p.orbit.cx, p.orbit.cy)),
    'orbiting-ccw': (m, p) => decreasing(angles(m.map((s) => ({ x: s.cx, y: s.cy })), p.orbit.cx, p.orbit.cy)),
  };
  it.each([...SYNTH_CLASSES])('%s', (name) => {
    for (let clip = 0; clip < 4; clip++) {
      // 6 frames: steps large enough that pixel rounding cannot reverse them
      const p = { ...clipParams(3, 'val', name, clip, W, H), noise: 0 };
      const m = measure(renderClipFrames(name, p, 6, W, H), p);
      expect(m.every((s) => s.area > 20 && Number.isFinite(s.mx))).toBe(true); // object and marker drawn
      expect(checks[name](m, p)).toBe(true);
    }
  });

  it('varies shape, colour, size, speed and position between clips', () => {
    const params = Array.from({ length: 24 }, (_, i) => clipParams(0, 'train', 'moving-left', i, W, H));
    expect(new Set(params.map((p) => p.shape)).size).toBeGreaterThanOrEqual(4);
    for (const key of ['color', 'background', 'radius', 'noise', 'from', 'to'] as const) {
      expect(new Set(params.map((p) => JSON.stringify(p[key]))).size).toBe(24);
    }
  });
});

describe('writing the data set', () => {
  const small = { classes: 2, trainPerClass: 2, valPerClass: 1, seconds: 0.8, width: 64, height: 48, fps: 10, seed: 4 };

  it('is byte-for-byte the same for a seed, and different for another', async () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    const c = path.join(dir, 'c');
    const summary = await synthDataset(a, small);
    await synthDataset(b, small);
    await synthDataset(c, { ...small, seed: 5 });
    expect(summary.files).toBe(6);
    expect(summary.frameCount).toBe(8);
    const file = 'train/moving-right/moving-right-0001.mp4';
    const [x, y, z] = await Promise.all([a, b, c].map((d) => fs.readFile(path.join(d, file))));
    expect(x!.equals(y!)).toBe(true);
    expect(x!.equals(z!)).toBe(false);
  });

  it('`losa data synth` writes DIR/<split>/<class>/*.mp4 that probe as the clips asked for', async () => {
    const target = 'my set';
    const made = await runCli(['data', 'synth', target, '--classes', '4', '--train-per-class', '16', '--val-per-class', '1', '--seconds', '1', '--size', '80x60', '--seed', '1'], dir);
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    const root = path.join(dir, target);
    for (const split of ['train', 'val']) {
      expect((await fs.readdir(path.join(root, split))).sort()).toEqual(['moving-left', 'moving-right', 'rotating-ccw', 'rotating-cw']);
    }
    expect(await fs.readdir(path.join(root, 'train', 'rotating-cw'))).toHaveLength(16);
    const info = await probeVideo(path.join(root, 'val', 'rotating-ccw', 'rotating-ccw-0000.mp4'));
    expect(info).toMatchObject({ frameCount: 15, fps: 15, width: 80, height: 60, codec: 'h264', pixFmt: 'yuv420p' });
    expect(made.stdout).toMatch(/wrote 68 clips/);

    const odd = await runCli(['data', 'synth', 'odd', '--classes', '3'], dir);
    expect(odd.status).toBe(2);
    expect(odd.stderr).toMatch(/^losa: error: Expected `--classes` to be even/);
    const jobs = await runCli(['data', 'synth', 'old', '--jobs', '1', '--classes', '2', '--train-per-class', '1', '--val-per-class', '0', '--seconds', '0.2', '--size', '32x32'], dir);
    expect(jobs.status).toBe(0);
    expect(jobs.stderr).toBe('losa: note: --jobs is deprecated; use --workers\n');
    const size = await runCli(['data', 'synth', 'odd', '--size', '81x60'], dir);
    expect(size.status).toBe(2);
    expect(size.stderr).toMatch(/--size/);
  }, 60_000);
});
