// A phone photo stored sideways with an EXIF orientation tag gives the features of the same
// picture stored upright, through `losa features` and a small backbone. "The same picture" is
// made exact: the sideways JPEG's decoded pixels, turned upright in this test and stored as a
// lossless PNG. A separately encoded upright JPEG comes close; the sideways pixels without
// the tag (what a reader that ignores EXIF sees) are far off.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { makeTimmWeights, smallConfig, writeTensors } from './backbone-helpers.js';
import { readSafetensorsFloat32 } from '../src/safetensors.js';

const W = 64; // upright width
const H = 48;
let dir: string;

/** A picture with a clear up and left: a light square top-left, a gradient, a dark bar at the bottom. */
function uprightPicture(): Uint8Array {
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const square = x < 24 && y < 20;
      const bar = y > 38;
      rgb.set([square ? 235 : bar ? 20 : 60 + x * 2, square ? 220 : bar ? 30 : 40 + y * 3, square ? 90 : 120], (y * W + x) * 3);
    }
  }
  return rgb;
}

/** Turn [h, w, 3] by 90°: clockwise (display of orientation 6) or counter-clockwise (how it is stored). */
function turn(rgb: Uint8Array, w: number, h: number, clockwise: boolean): Uint8Array {
  const out = new Uint8Array(rgb.length); // [w rows, h columns]
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [ny, nx] = clockwise ? [x, h - 1 - y] : [w - 1 - x, y];
      out.set(rgb.subarray((y * w + x) * 3, (y * w + x) * 3 + 3), (ny * h + nx) * 3);
    }
  }
  return out;
}

async function features(file: string): Promise<Float32Array> {
  const out = path.join(dir, `${path.basename(file)}.safetensors`);
  const r = await runCli(['features', file, '--backbone', 'tiny.json', '--weights', 'tiny.safetensors', '--out', out], dir);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return (await readSafetensorsFloat32(out)).tensors.get('features')!.data;
}

const maxAbs = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-orientation-'));
  const config = smallConfig({ name: undefined, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
  const { name: _n, ...file } = config;
  await fs.writeFile(path.join(dir, 'tiny.json'), JSON.stringify(file));
  await writeTensors(path.join(dir, 'tiny.safetensors'), makeTimmWeights(config, 3));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('EXIF orientation through the backbone', () => {
  it('an EXIF-rotated JPEG gives the features of the same picture stored upright', async () => {
    const upright = uprightPicture();
    const stored = turn(upright, W, H, false); // [W rows, H columns]: the camera's sideways layout
    const jpegOptions = { quality: 95, chromaSubsampling: '4:2:0' };
    const rotated = path.join(dir, 'rotated.jpg');
    await sharp(stored, { raw: { width: H, height: W, channels: 3 } }).jpeg(jpegOptions).withMetadata({ orientation: 6 }).toFile(rotated);
    const untagged = path.join(dir, 'untagged.jpg');
    await sharp(stored, { raw: { width: H, height: W, channels: 3 } }).jpeg(jpegOptions).toFile(untagged);

    // The same picture stored upright: the JPEG's own decoded pixels, turned here, kept lossless.
    const { data: decoded, info } = await sharp(rotated, { autoOrient: false }).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([H, W]);
    const same = path.join(dir, 'same upright.png');
    await sharp(turn(decoded, H, W, true), { raw: { width: W, height: H, channels: 3 } }).png().toFile(same);
    const separately = path.join(dir, 'upright.jpg');
    await sharp(upright, { raw: { width: W, height: H, channels: 3 } }).jpeg(jpegOptions).toFile(separately);

    const fRotated = await features(rotated);
    const fSame = await features(same);
    expect(maxAbs(fRotated, fSame)).toBeLessThan(1e-5);
    const far = maxAbs(await features(untagged), fSame);
    expect(far).toBeGreaterThan(0.5);
    expect(maxAbs(await features(separately), fSame)).toBeLessThan(far / 10);
  });
});
