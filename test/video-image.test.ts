// Still images through sharp: every format and layout arrives as the same 8-bit sRGB pixels.
// The expected pixels are the picture the test made (blocks of flat colour), written by ffmpeg
// where it can (PNG 8/16-bit, palette, grey, TIFF, WebP, GIF, JPEG, BMP) and by sharp where
// it cannot (AVIF, CMYK JPEG, EXIF orientation).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { decodeFrames } from '../src/video/decode.js';
import { ffmpegInput, runFfmpeg } from '../src/video/ffmpeg.js';
import { probeVideo } from '../src/video/probe.js';

/** An exact palette of the picture's colours (it has fewer than 256), no dithering. */
const PALETTE = ['-filter_complex', 'split[a][b];[a]palettegen=max_colors=256:reserve_transparent=0:stats_mode=full[p];[b][p]paletteuse=dither=none'];

const W = 48;
const H = 32;
let dir: string;

/** 8×8 blocks of flat, distinct colours: [H, W, 3]. */
function picture(width = W, height = H): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const b = Math.floor(y / 8) * Math.ceil(width / 8) + Math.floor(x / 8);
      rgb.set([(b * 40 + 30) % 256, (b * 90 + 60) % 256, (b * 150 + 20) % 256], (y * width + x) * 3);
    }
  }
  return rgb;
}

/** Write `rgb` ([h, w, c] of `pixFmt`) as one image with ffmpeg: the writer is not the reader. */
async function ffmpegImage(name: string, raw: Uint8Array, inputFmt: string, outArgs: string[], width = W, height = H): Promise<string> {
  const rawFile = path.join(dir, `${name}.raw`);
  await fs.writeFile(rawFile, raw);
  const file = path.join(dir, name);
  const r = await runFfmpeg(['-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', inputFmt, '-s', `${width}x${height}`, '-i', ffmpegInput(rawFile), '-frames:v', '1', ...outArgs, ffmpegInput(file)]);
  expect(r.stderr).toBe('');
  return file;
}

async function pixels(file: string, width = W, height = H): Promise<Uint8Array> {
  const info = await probeVideo(file);
  expect(info).toMatchObject({ image: true, frameCount: 1, width, height });
  return (await decodeFrames(info, [0], { width, height })).frameAt(0);
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const grey = (rgb: Uint8Array): Uint8Array => {
  const g = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < g.length; i++) g[i] = Math.round(0.299 * rgb[i * 3]! + 0.587 * rgb[i * 3 + 1]! + 0.114 * rgb[i * 3 + 2]!);
  return g;
};

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-image-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('formats and layouts', () => {
  const rgb = picture();

  it('lossless formats give the picture exactly: PNG, palette PNG, 16-bit PNG, TIFF, WebP, GIF, BMP', async () => {
    const rgb48 = new Uint16Array(rgb.length);
    for (let i = 0; i < rgb.length; i++) rgb48[i] = rgb[i]! * 257; // 16-bit values whose top byte is the 8-bit one
    const files = {
      'plain.png': await ffmpegImage('plain.png', rgb, 'rgb24', []),
      'palette.png': await ffmpegImage('palette.png', rgb, 'rgb24', PALETTE),
      'deep.png': await ffmpegImage('deep.png', new Uint8Array(rgb48.buffer), 'rgb48le', ['-pix_fmt', 'rgb48be']),
      'scan.tiff': await ffmpegImage('scan.tiff', rgb, 'rgb24', ['-pix_fmt', 'rgb24']),
      'still.webp': await ffmpegImage('still.webp', rgb, 'rgb24', ['-c:v', 'libwebp', '-lossless', '1']),
      'still.gif': await ffmpegImage('still.gif', rgb, 'rgb24', PALETTE),
      'old.bmp': await ffmpegImage('old.bmp', rgb, 'rgb24', []),
    };
    const layouts: Record<string, string> = {};
    for (const [name, file] of Object.entries(files)) {
      const info = await probeVideo(file);
      layouts[name] = `${info.reader} ${info.codec} ${info.pixFmt}`;
      expect(maxDiff(await pixels(file), rgb), name).toBe(0);
    }
    expect(layouts['palette.png']).toMatch(/^sharp png .*\(palette\)/);
    expect(layouts['deep.png']).toBe('sharp png rgb16');
    expect(layouts['old.bmp']).toMatch(/^ffmpeg bmp/); // libvips has no BMP reader: ffmpeg keeps it
  });

  it('grey (8 and 16 bit) becomes three equal channels', async () => {
    const g = grey(rgb);
    const g16 = new Uint16Array(g.length).map((_, i) => g[i]! * 257);
    for (const file of [await ffmpegImage('grey.png', g, 'gray', []), await ffmpegImage('grey16.png', new Uint8Array(g16.buffer), 'gray16le', ['-pix_fmt', 'gray16be'])]) {
      const out = await pixels(file);
      const expected = new Uint8Array(rgb.length).map((_, i) => g[Math.floor(i / 3)]!);
      expect(maxDiff(out, expected)).toBe(0);
    }
  });

  it('lossy formats come close: JPEG (4:4:4), AVIF, CMYK JPEG', async () => {
    const jpeg = await ffmpegImage('photo.jpg', rgb, 'rgb24', ['-pix_fmt', 'yuvj444p', '-q:v', '1']);
    expect(maxDiff(await pixels(jpeg), rgb)).toBeLessThanOrEqual(4);
    const raw = { raw: { width: W, height: H, channels: 3 as const } };
    const avif = path.join(dir, 'photo.avif');
    await sharp(rgb, raw).avif({ lossless: true }).toFile(avif);
    expect((await probeVideo(avif)).codec).toBe('avif');
    expect(maxDiff(await pixels(avif), rgb)).toBeLessThanOrEqual(2);
    // CMYK goes through colour profiles both ways: colours inside the CMYK gamut come back near.
    const muted = rgb.map((v) => 70 + Math.round(v * 0.45));
    const cmyk = path.join(dir, 'print.jpg');
    await sharp(muted, raw).toColourspace('cmyk').jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toFile(cmyk);
    expect((await probeVideo(cmyk)).pixFmt).toBe('cmyk');
    // (read as if it were RGB, or with its channels swapped, it would be off by 100 or more)
    const back = await pixels(cmyk);
    expect(maxDiff(back, muted)).toBeLessThanOrEqual(24);
    expect(back.reduce((s, v, i) => s + Math.abs(v - muted[i]!), 0) / back.length).toBeLessThan(6);
  });

  it('flattens alpha onto white, or onto the background asked for', async () => {
    const rgba = new Uint8Array(W * H * 4);
    for (let p = 0; p < W * H; p++) rgba.set([...rgb.subarray(p * 3, p * 3 + 3), p % 3 === 0 ? 0 : p % 3 === 1 ? 128 : 255], p * 4);
    const file = await ffmpegImage('logo.png', rgba, 'rgba', ['-pix_fmt', 'rgba']);
    expect((await probeVideo(file)).pixFmt).toBe('srgb+alpha');
    const over = (bg: number): Uint8Array => rgb.map((v, i) => {
      const a = rgba[Math.floor(i / 3) * 4 + 3]! / 255;
      return Math.round(v * a + bg * (1 - a));
    });
    expect(maxDiff(await pixels(file), over(255))).toBeLessThanOrEqual(1);
    const info = await probeVideo(file);
    const onBlack = (await decodeFrames(info, [0], { width: W, height: H, background: { r: 0, g: 0, b: 0 } })).frameAt(0);
    expect(maxDiff(onBlack, over(0))).toBeLessThanOrEqual(1);
  });

  it('takes the first frame of an animated WebP, and reads an animated GIF as a video', async () => {
    const second = rgb.map((v) => 255 - v);
    const frames = new Uint8Array([...rgb, ...second]);
    const webp = path.join(dir, 'moving.webp');
    await sharp(frames, { raw: { width: W, height: H * 2, channels: 3, pageHeight: H } }).webp({ lossless: true, loop: 0 }).toFile(webp);
    expect(maxDiff(await pixels(webp), rgb)).toBe(0);
    const gif = path.join(dir, 'moving.gif');
    const made = await runFfmpeg(['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=s=48x32:r=10:d=1', '-pix_fmt', 'pal8', ffmpegInput(gif)]);
    expect(made.code).toBe(0);
    const info = await probeVideo(gif);
    expect(info).toMatchObject({ reader: 'ffmpeg', frameCount: 10 });
    expect(info.image).toBeFalsy();
  });
});

describe('EXIF orientation', () => {
  it('shows a sideways-stored photo upright', async () => {
    // Stored rotated 90° counter-clockwise, tagged 6 ("turn 90° clockwise to display").
    const upright = picture(48, 32);
    const stored = new Uint8Array(upright.length); // [48 rows, 32 columns]
    for (let y = 0; y < 32; y++) for (let x = 0; x < 48; x++) stored.set(upright.subarray((y * 48 + x) * 3, (y * 48 + x) * 3 + 3), ((47 - x) * 32 + y) * 3);
    const file = path.join(dir, 'phone.jpg');
    await sharp(stored, { raw: { width: 32, height: 48, channels: 3 } }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).withMetadata({ orientation: 6 }).toFile(file);
    const info = await probeVideo(file);
    expect(info).toMatchObject({ width: 48, height: 32, rotation: 90 });
    expect(maxDiff(await pixels(file, 48, 32), upright)).toBeLessThanOrEqual(4);
  });
});

describe('bad images: one line naming the file', () => {
  const frames = (file: string) => runCli(['frames', file, '--out', path.join(dir, 'out'), '--num-frames', '1', '--image-size', '16'], dir);

  async function expectOneLine(file: string, problem: RegExp): Promise<void> {
    const r = await frames(file);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`losa: error: ${file}: `);
    expect(lines[0]).toMatch(problem);
  }

  it('empty, truncated, not an image, a format sharp cannot read', async () => {
    const empty = path.join(dir, 'empty.png');
    await fs.writeFile(empty, '');
    await expectOneLine(empty, /empty file/);
    const whole = await fs.readFile(await ffmpegImage('whole.jpg', picture(), 'rgb24', ['-q:v', '2']));
    const cut = path.join(dir, 'cut.jpg');
    await fs.writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    await expectOneLine(cut, /cannot decode the image \(.*(premature|truncated|end)/i);
    const text = path.join(dir, 'notes.png');
    await fs.writeFile(text, 'not a picture at all, just words\n'.repeat(4));
    await expectOneLine(text, /not an image sharp can read/);
    // HEIC (HEVC inside HEIF): the header says image, libvips has no HEVC decoder
    const heic = path.join(dir, 'phone.heic');
    await fs.writeFile(heic, Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic\0\0\0\0mif1heic'), Buffer.alloc(200, 7)]));
    await expectOneLine(heic, /cannot decode the image \(Input file has corrupt header: heif: /);
  });

  it('refuses a 30,000 × 30,000 image before decoding it', async () => {
    // A valid PNG header for 30000 × 30000 and a few bytes of pixel data: only the header is ever read.
    const crcTable = Array.from({ length: 256 }, (_, n) => {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      return c >>> 0;
    });
    const crc = (bytes: Buffer): number => {
      let c = 0xffffffff;
      for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
      return (c ^ 0xffffffff) >>> 0;
    };
    const chunk = (type: string, data: Buffer): Buffer => {
      const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const out = Buffer.alloc(12 + data.length);
      out.writeUInt32BE(data.length, 0);
      body.copy(out, 4);
      out.writeUInt32BE(crc(body), 8 + data.length);
      return out;
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(30000, 0);
    ihdr.writeUInt32BE(30000, 4);
    ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
    const huge = path.join(dir, 'huge.png');
    await fs.writeFile(huge, Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1000))), chunk('IEND', Buffer.alloc(0))]));
    await expectOneLine(huge, /image of 30000 × 30000 pixels is over the limit of 268,402,689 pixels; refused before decoding/);
  });

  it('an unreadable file', async () => {
    if (process.getuid?.() === 0) return; // root reads everything
    const locked = path.join(dir, 'locked.jpg');
    await fs.writeFile(locked, 'x');
    await fs.chmod(locked, 0);
    await expectOneLine(locked, /permission denied/);
  });
});
