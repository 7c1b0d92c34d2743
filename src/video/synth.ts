// A synthetic Kinetics-style data set whose classes differ only in the order of time.
// Classes come in pairs that share one motion ("move right", "rotate clockwise", "grow", …):
// one class of a pair plays it forwards, the other backwards. Frame j of a clip of one class is
// frame n−1−j of the partner's clip drawn with the same random parameters (background noise
// included: noise belongs to the scene time, not the frame number), so a model that averages
// its frames cannot beat chance within a pair; one that knows frame order can.
// Frames are drawn in JavaScript and piped as rgb24 to ffmpeg (H.264, yuv420p).
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import { expected, LosaError } from '../errors.js';
import { withAtomicFile } from '../fsutil.js';
import { createRng, hash32, type Rng } from '../random.js';
import { lastErrorLine, startFfmpeg } from './ffmpeg.js';

/** The motions a pair of classes shares (one plays it forwards, the other backwards). */
export type SynthMotion = 'horizontal' | 'rotation' | 'scale' | 'vertical' | 'orbit';
type Motion = SynthMotion;

/** Every synthetic class in its fixed order; `--classes N` takes the first N (pairs stay together). */
export const SYNTH_CLASSES = [
  'moving-left', 'moving-right',
  'rotating-cw', 'rotating-ccw',
  'growing', 'shrinking',
  'moving-up', 'moving-down',
  'orbiting-cw', 'orbiting-ccw',
] as const;
export type SynthClass = (typeof SYNTH_CLASSES)[number];

/** Each class: the motion it shows and whether it plays that motion backwards. */
const CLASS_MOTION: Record<SynthClass, { motion: Motion; reversed: boolean }> = {
  'moving-right': { motion: 'horizontal', reversed: false },
  'moving-left': { motion: 'horizontal', reversed: true },
  'rotating-cw': { motion: 'rotation', reversed: false },
  'rotating-ccw': { motion: 'rotation', reversed: true },
  growing: { motion: 'scale', reversed: false },
  shrinking: { motion: 'scale', reversed: true },
  'moving-down': { motion: 'vertical', reversed: false },
  'moving-up': { motion: 'vertical', reversed: true },
  'orbiting-cw': { motion: 'orbit', reversed: false },
  'orbiting-ccw': { motion: 'orbit', reversed: true },
};

/** The class whose clips are this class's clips played backwards. */
export function synthPartner(name: SynthClass): SynthClass {
  const i = SYNTH_CLASSES.indexOf(name);
  return SYNTH_CLASSES[i % 2 === 0 ? i + 1 : i - 1]!;
}

/** Object outlines in unit coordinates (x right, y down). Each holds the marker disc (centre (0.5, 0), radius 0.22), which makes any turn visible. */
const SHAPES: Record<string, readonly (readonly [number, number])[]> = {
  triangle: [[1, 0], [-0.6, 0.75], [-0.6, -0.75]],
  bar: [[1, 0.42], [-1, 0.42], [-1, -0.42], [1, -0.42]],
  ell: [[-0.8, -0.9], [-0.2, -0.9], [-0.2, -0.3], [0.8, -0.3], [0.8, 0.3], [-0.8, 0.3]],
  cross: [[-0.3, -0.9], [0.3, -0.9], [0.3, -0.3], [0.9, -0.3], [0.9, 0.3], [0.3, 0.3], [0.3, 0.9], [-0.3, 0.9], [-0.3, 0.3], [-0.9, 0.3], [-0.9, -0.3], [-0.3, -0.3]],
  disc: [],
};
const SHAPE_NAMES = Object.keys(SHAPES);
/** Shapes that look different after any turn short of a full one: the ones that rotate. */
const ASYMMETRIC_SHAPES = ['triangle', 'ell'];

/** Everything random about one clip; both classes of a pair draw it from the same distribution. */
export interface SceneParams {
  shape: string;
  color: [number, number, number];
  marker: [number, number, number];
  background: [number, number, number];
  /** Amplitude of the per-pixel background noise (0–255 scale). */
  noise: number;
  /** Object radius in pixels at scale 1. */
  radius: number;
  /** Orientation in radians at scene time 0. */
  angle: number;
  /** Object centre at scene time 0 and 1 (pixels). */
  from: [number, number];
  to: [number, number];
  /** Total turn in radians over the clip (rotation); orbit: radius and angles. */
  turn: number;
  scaleFrom: number;
  scaleTo: number;
  orbit: { cx: number; cy: number; r: number; a0: number };
  /** Seed of the background noise. */
  noiseSeed: number;
}

function hsv(h: number, s: number, v: number): [number, number, number] {
  const f = (n: number): number => {
    const k = (n + h * 6) % 6;
    return Math.round(255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

/** Draw the random parameters of one clip of `motion` in a width×height frame. */
export function sceneParams(rng: Rng, motion: Motion, width: number, height: number): SceneParams {
  const short = Math.min(width, height);
  const hue = rng.next();
  // Sizes and paths are generous on purpose: the motion must be visible in coarse pooled
  // features (a 2×2 grid) even of a random, untrained backbone, as in the demo. Rotating objects
  // are large and near the centre, so their asymmetric parts sweep across the grid cells.
  const radius = short * (motion === 'rotation' ? rng.uniform(0.24, 0.3) : rng.uniform(0.14, 0.22));
  const margin = radius * 1.3; // every outline lies within 1.3 radii: objects stay whole in the frame
  const scaleTo = motion === 'scale' ? rng.uniform(1.15, 1.4) : 1;
  const reach = margin * scaleTo;
  const span = (lo: number, hi: number): [number, number] => {
    const length = (hi - lo) * rng.uniform(0.6, 0.95);
    const start = lo + rng.next() * (hi - lo - length);
    return [start, start + length];
  };
  const place = (lo: number, hi: number): number => lo + rng.next() * Math.max(0, hi - lo);
  let from: [number, number] = [place(reach, width - reach), place(reach, height - reach)];
  let to: [number, number] = [...from];
  if (motion === 'rotation') {
    const jitter = 0.08 * short;
    from = [width / 2 + rng.uniform(-jitter, jitter), height / 2 + rng.uniform(-jitter, jitter)];
    to = [...from];
  } else if (motion === 'horizontal') {
    const [a, b] = span(margin, width - margin);
    from = [a, from[1]];
    to = [b, from[1]];
  } else if (motion === 'vertical') {
    const [a, b] = span(margin, height - margin);
    from = [from[0], a];
    to = [from[0], b];
  }
  const orbitMargin = margin * 0.8; // orbiting objects are drawn at scale 0.8
  const orbitR = Math.min(rng.uniform(0.15, 0.3) * short, short / 2 - orbitMargin);
  return {
    shape: motion === 'rotation' ? ASYMMETRIC_SHAPES[rng.int(ASYMMETRIC_SHAPES.length)]! : SHAPE_NAMES[rng.int(SHAPE_NAMES.length)]!,
    // Any hue, but always a light object on a dark background with a dark marker: the contrast
    // keeps one sign, so even random features see the object the same way in every clip.
    color: hsv(hue, rng.uniform(0.1, 0.45), rng.uniform(0.8, 1)),
    marker: hsv((hue + 0.5) % 1, rng.uniform(0.3, 0.8), rng.uniform(0.1, 0.3)),
    background: hsv(rng.next(), rng.uniform(0, 0.5), rng.uniform(0.05, 0.3)),
    noise: rng.uniform(0, 28),
    radius,
    // Rotations start within a quarter turn of pointing right, so cw and ccw clips start and end
    // in different orientations; the set of orientations a pair visits is still the same.
    angle: motion === 'rotation' ? rng.uniform(-0.25, 0.25) * Math.PI : rng.uniform(0, 2 * Math.PI),
    from,
    to,
    turn: motion === 'rotation' ? rng.uniform(1, 1.6) * Math.PI : 0,
    scaleFrom: motion === 'scale' ? rng.uniform(0.45, 0.65) : 1,
    scaleTo,
    orbit: {
      cx: place(orbitR + orbitMargin, width - orbitR - orbitMargin),
      cy: place(orbitR + orbitMargin, height - orbitR - orbitMargin),
      r: orbitR,
      a0: rng.uniform(0, 2 * Math.PI),
    },
    noiseSeed: rng.int(2 ** 31),
  };
}

/** Where the object is at scene time t ∈ [0, 1] (the motion's forward direction). */
function pose(motion: Motion, p: SceneParams, t: number): { x: number; y: number; angle: number; scale: number } {
  const lerp = (a: number, b: number): number => a + (b - a) * t;
  switch (motion) {
    case 'rotation':
      return { x: p.from[0], y: p.from[1], angle: p.angle + p.turn * t, scale: 1 };
    case 'scale':
      return { x: p.from[0], y: p.from[1], angle: p.angle, scale: lerp(p.scaleFrom, p.scaleTo) };
    case 'orbit': {
      // Clockwise on screen: y points down, so the angle grows.
      const a = p.orbit.a0 + 1.2 * Math.PI * t;
      return { x: p.orbit.cx + p.orbit.r * Math.cos(a), y: p.orbit.cy + p.orbit.r * Math.sin(a), angle: p.angle, scale: 0.8 };
    }
    default:
      return { x: lerp(p.from[0], p.to[0]), y: lerp(p.from[1], p.to[1]), angle: p.angle, scale: 1 };
  }
}

function insidePolygon(points: Float64Array, x: number, y: number): boolean {
  let inside = false;
  const n = points.length >> 1;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = points[2 * i]!;
    const yi = points[2 * i + 1]!;
    const xj = points[2 * j]!;
    const yj = points[2 * j + 1]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

const FLAT_SHAPES: Record<string, Float64Array> = Object.fromEntries(
  Object.entries(SHAPES).map(([name, points]) => [name, Float64Array.from(points.flat())]));

/** Draw scene time step `s` of `steps` into a fresh [H, W, 3] rgb24 frame. */
export function renderScene(motion: Motion, p: SceneParams, s: number, steps: number, width: number, height: number): Uint8Array {
  const frame = new Uint8Array(width * height * 3); // [H, W, 3]
  // Grey noise from an inline xorshift32 seeded by (clip, scene time), in integers: the hot
  // loop of synth. n is uniform in [-noise, noise].
  let state = hash32(`${p.noiseSeed}/${s}`) || 1;
  const amplitude = Math.round(p.noise * 256);
  const [br, bg, bb] = p.background;
  const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);
  for (let o = 0; o < frame.length; o += 3) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const n = ((state >> 23) * amplitude) >> 16; // (state >> 23) ∈ [-256, 255]
    frame[o] = clamp(br + n);
    frame[o + 1] = clamp(bg + n);
    frame[o + 2] = clamp(bb + n);
  }
  const t = steps > 1 ? s / (steps - 1) : 0;
  const { x, y, angle, scale } = pose(motion, p, t);
  const r = p.radius * scale;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const outline = FLAT_SHAPES[p.shape]!;
  const x0 = Math.max(0, Math.floor(x - r - 1));
  const x1 = Math.min(width - 1, Math.ceil(x + r + 1));
  const y0 = Math.max(0, Math.floor(y - r - 1));
  const y1 = Math.min(height - 1, Math.ceil(y + r + 1));
  for (let py = y0; py <= y1; py++) {
    for (let px = x0; px <= x1; px++) {
      // Pixel centre in object coordinates: undo translation, rotation and scale.
      const dx = px + 0.5 - x;
      const dy = py + 0.5 - y;
      const u = (cos * dx + sin * dy) / r;
      const v = (-sin * dx + cos * dy) / r;
      const d2 = u * u + v * v;
      // Every outline lies within radius 1.3 of the centre; the disc is the unit circle.
      const onObject = outline.length === 0 ? d2 <= 1 : d2 <= 1.69 && insidePolygon(outline, u, v);
      if (!onObject) continue;
      const mu = u - 0.5;
      const onMarker = mu * mu + v * v <= 0.22 * 0.22;
      const color = onMarker ? p.marker : p.color;
      const o = (py * width + px) * 3;
      frame[o] = color[0];
      frame[o + 1] = color[1];
      frame[o + 2] = color[2];
    }
  }
  return frame;
}

/** The frames of one clip of `name`, one at a time (reversed classes play scene times backwards). */
export function* clipFrames(name: SynthClass, p: SceneParams, frameCount: number, width: number, height: number): Generator<Uint8Array> {
  const { motion, reversed } = CLASS_MOTION[name];
  for (let j = 0; j < frameCount; j++) yield renderScene(motion, p, reversed ? frameCount - 1 - j : j, frameCount, width, height);
}

/** All frames of one clip of `name`, [H, W, 3] rgb24 each. */
export function renderClipFrames(name: SynthClass, p: SceneParams, frameCount: number, width: number, height: number): Uint8Array[] {
  return [...clipFrames(name, p, frameCount, width, height)];
}

/** The motion a class shows, and whether it plays it backwards. */
export function synthMotion(name: SynthClass): { motion: SynthMotion; reversed: boolean } {
  return CLASS_MOTION[name];
}

/** The parameters of clip `index` of `name` in `split`: a pure function of the seed. */
export function clipParams(seed: number, split: string, name: SynthClass, index: number, width: number, height: number): SceneParams {
  return sceneParams(createRng(`synth/${seed}/${split}/${name}/${index}`), CLASS_MOTION[name].motion, width, height);
}

export interface WriteVideoOptions {
  width: number;
  height: number;
  fps: number;
  /** Output options placed before the file (default: H.264 yuv420p, CRF 23, one thread, bit-exact mp4). */
  codecArgs?: string[];
  /** Container (ffmpeg `-f`), since the file is written under a temporary name (default mp4). */
  format?: string;
}

export const H264_ARGS: readonly string[] = [
  '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p', '-threads', '1',
  '-movflags', '+faststart', '-fflags', '+bitexact', '-flags:v', '+bitexact', '-map_metadata', '-1',
];

/** Encode rgb24 frames ([H, W, 3] each) to a video file, atomically. */
export async function writeVideo(file: string, frames: Iterable<Uint8Array>, options: WriteVideoOptions): Promise<void> {
  const { width, height, fps } = options;
  await withAtomicFile(file, async (tmp) => {
    const run = await startFfmpeg([
      '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0',
      ...(options.codecArgs ?? H264_ARGS), '-f', options.format ?? 'mp4', `file:${path.resolve(tmp)}`,
    ], { stdin: true });
    run.stdout.resume();
    const stdin = run.stdin!;
    let exited = false; // ffmpeg died early: its exit status says why
    void run.done.finally(() => (exited = true));
    try {
      for (const frame of frames) {
        if (exited) break;
        if (!stdin.write(frame)) await Promise.race([once(stdin, 'drain'), run.done]);
      }
    } catch (error) {
      // The frames' generator threw: ffmpeg would wait for more input for ever. End it first.
      run.kill();
      await run.done;
      throw error;
    }
    stdin.end();
    const done = run.done;
    const result = await done;
    if (result.code !== 0) throw new LosaError(`${file}: ffmpeg could not encode (${lastErrorLine(result.stderr) || `exit ${result.code ?? result.signal}`})`);
  });
}

export interface SynthOptions {
  classes: number;
  trainPerClass: number;
  valPerClass: number;
  seconds: number;
  width: number;
  height: number;
  fps: number;
  seed: number;
  /** Encoders running at once (default SYNTH_DEFAULTS.concurrency). */
  concurrency?: number;
  /** Called after each file: split, class, files done in that split/class, and overall. */
  onProgress?(event: { split: string; className: string; classDone: number; classTotal: number; done: number; total: number; file: string }): void;
}

export const SYNTH_DEFAULTS: Required<Omit<SynthOptions, 'onProgress'>> = {
  classes: 4, trainPerClass: 32, valPerClass: 16, seconds: 2, width: 160, height: 120, fps: 15, seed: 0, concurrency: 2,
};

export interface SynthSummary {
  dir: string;
  classes: SynthClass[];
  files: number;
  bytes: number;
  frameCount: number;
  seconds: number;
}

function checkSynthOptions(o: SynthOptions): void {
  const int = (name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (!Number.isSafeInteger(v) || v < min || v > max) throw expected(name, `an integer from ${min} to ${max}`, v);
  };
  int('--classes', o.classes, 2, SYNTH_CLASSES.length);
  if (o.classes % 2 !== 0) throw expected('--classes', `an even number (classes come in time-reversed pairs) from 2 to ${SYNTH_CLASSES.length}`, o.classes);
  int('--train-per-class', o.trainPerClass, 0, 100_000);
  int('--val-per-class', o.valPerClass, 0, 100_000);
  if (!(o.seconds > 0 && o.seconds <= 600)) throw expected('--seconds', 'a number of seconds in (0, 600]', o.seconds);
  for (const v of [o.width, o.height]) {
    if (!Number.isSafeInteger(v) || v < 32 || v > 4096 || v % 2 !== 0) throw expected('--size', 'WxH with even sides from 32 to 4096', `${o.width}x${o.height}`);
  }
  if (!(o.fps > 0 && o.fps <= 120)) throw expected('fps', 'a number in (0, 120]', o.fps);
  if (Math.round(o.seconds * o.fps) < 2) throw expected('--seconds', 'long enough for 2 frames', o.seconds);
}

/** Write DIR/train/<class>/*.mp4 and DIR/val/<class>/*.mp4. Deterministic for a seed. */
export async function synthDataset(dir: string, options: SynthOptions): Promise<SynthSummary> {
  checkSynthOptions(options);
  const started = performance.now();
  const { width, height, fps } = options;
  const classes = SYNTH_CLASSES.slice(0, options.classes) as SynthClass[];
  const frameCount = Math.round(options.seconds * fps);
  const jobs: { split: string; className: SynthClass; index: number; file: string }[] = [];
  for (const [split, count] of [['train', options.trainPerClass], ['val', options.valPerClass]] as const) {
    for (const className of classes) {
      const folder = path.join(dir, split, className);
      try {
        await fs.mkdir(folder, { recursive: true });
      } catch (error) {
        throw new LosaError(`${folder}: cannot create the folder (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
      for (let index = 0; index < count; index++) {
        jobs.push({ split, className, index, file: path.join(dir, split, className, `${className}-${String(index).padStart(4, '0')}.mp4`) });
      }
    }
  }
  const queue = new PQueue({ concurrency: options.concurrency ?? SYNTH_DEFAULTS.concurrency });
  const perClass = new Map<string, number>();
  let done = 0;
  let bytes = 0;
  await Promise.all(jobs.map((job) => queue.add(async () => {
    const params = clipParams(options.seed, job.split, job.className, job.index, width, height);
    await writeVideo(job.file, clipFrames(job.className, params, frameCount, width, height), { width, height, fps });
    bytes += (await fs.stat(job.file)).size;
    const key = `${job.split}/${job.className}`;
    perClass.set(key, (perClass.get(key) ?? 0) + 1);
    done++;
    const classTotal = job.split === 'train' ? options.trainPerClass : options.valPerClass;
    options.onProgress?.({ split: job.split, className: job.className, classDone: perClass.get(key)!, classTotal, done, total: jobs.length, file: job.file });
  })));
  return { dir, classes, files: jobs.length, bytes, frameCount, seconds: (performance.now() - started) / 1000 };
}
