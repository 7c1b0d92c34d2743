// Still images through sharp (libvips): JPEG, PNG (16-bit and palette too), WebP, AVIF, TIFF and
// the first frame of a GIF. What the model sees is 8-bit sRGB: grey and CMYK are converted,
// alpha is flattened onto IMAGE_BACKGROUND, and the EXIF orientation is applied, so a phone
// photo is classified upright. sharp also writes the PNG files of `losa frames`.
// Files are recognised by their first bytes, not their name; BMP, which libvips cannot read,
// stays with ffmpeg (probe.ts).
import { promises as fs } from 'node:fs';
import sharp, { type Metadata } from 'sharp';
import type { CropBox } from './sampling.js';
import { LosaError } from '../errors.js';

/** What transparent pixels are flattened onto: white, as an image viewer or a web page shows them. */
export const IMAGE_BACKGROUND = { r: 255, g: 255, b: 255 } as const;

/**
 * Images with more pixels than this are refused before decoding (sharp's own default limit,
 * 16383 × 16383): a 30,000 × 30,000 picture would need 2.7 GB as rgb24 before it is scaled.
 */
export const MAX_IMAGE_PIXELS = 16383 * 16383;

export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif' | 'heif';

const ascii = (bytes: Uint8Array, from: number, to: number): string => String.fromCharCode(...bytes.subarray(from, to));

/** The image format of a file from its first bytes (at least 32), or undefined when it is none sharp reads. */
export function sniffImage(head: Uint8Array): ImageFormat | undefined {
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (ascii(head, 0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (ascii(head, 0, 4) === 'GIF8') return 'gif';
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') return 'webp';
  if (ascii(head, 0, 4) === 'II*\0' || ascii(head, 0, 4) === 'MM\0*') return 'tiff';
  if (ascii(head, 4, 8) === 'ftyp') {
    // ISO base media: the brands of the ftyp box say image (AVIF, HEIF) or video (mp4, mov).
    const size = Math.min(head.length, (head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!);
    const brands = new Set<string>();
    for (let at = 8; at + 4 <= size; at += at === 8 ? 8 : 4) brands.add(ascii(head, at, at + 4));
    if (brands.has('avif') || brands.has('avis')) return 'avif';
    if (['heic', 'heix', 'heim', 'heis', 'mif1', 'msf1'].some((b) => brands.has(b))) return 'heif';
  }
  return undefined;
}

/** The first `length` bytes of a file; unreadable files are one-line errors naming them. */
export async function readHead(file: string, length = 64): Promise<Uint8Array> {
  let handle;
  try {
    handle = await fs.open(file, 'r');
    const buffer = new Uint8Array(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LosaError(`${file}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : `cannot read (${code ?? (error as Error).message})`}`);
  } finally {
    await handle?.close();
  }
}

/**
 * libvips piles up one line per failed attempt ("bad seek to …" twenty times): keep what went
 * wrong (the first line's head) and the decoder's last word, without the file name.
 */
function sharpError(file: string, error: unknown): LosaError {
  const message = (error as Error).message ?? String(error);
  if (/unsupported image format/i.test(message)) return new LosaError(`${file}: not an image sharp can read (unsupported image format)`);
  const lines = message.split('\n').map((l) => l.split(`${file}: `).join('').trim()).filter((l) => l !== '');
  const why = lines.length > 1 ? `${lines[0]!.split(': ')[0]}: ${lines[lines.length - 1]}` : (lines[0] ?? 'unknown error');
  return new LosaError(`${file}: cannot decode the image (${why})`);
}

export interface ImageHeader {
  /** As displayed, after the EXIF orientation. */
  width: number;
  height: number;
  format: string;
  /** Colour space and layout as stored, e.g. "srgb", "rgb16+alpha", "cmyk", "b-w (palette)". */
  layout: string;
  /** EXIF orientation (1–8), 1 when absent. */
  orientation: number;
  /** Frames of an animated image (GIF, WebP); 1 for a still. */
  pages: number;
}

/** Read an image's header (no pixels) and refuse one over MAX_IMAGE_PIXELS before decoding. */
export async function readImageHeader(file: string): Promise<ImageHeader> {
  let meta: Metadata;
  try {
    meta = await sharp(file, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw sharpError(file, error);
  }
  const { width, height } = meta;
  if (!(width > 0 && height > 0)) throw new LosaError(`${file}: image has no size (corrupt?)`);
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new LosaError(`${file}: image of ${width} × ${height} pixels is over the limit of ${MAX_IMAGE_PIXELS.toLocaleString('en-US')} pixels; refused before decoding`);
  }
  const format = meta.format === 'heif' && meta.compression === 'av1' ? 'avif' : meta.format;
  const layout = `${meta.space}${meta.hasAlpha ? '+alpha' : ''}${meta.isPalette ? ' (palette)' : ''}`;
  return { width: meta.autoOrient.width, height: meta.autoOrient.height, format, layout, orientation: meta.orientation ?? 1, pages: meta.pages ?? 1 };
}

export interface ImageDecodeOptions {
  /** Output size, after cropping. */
  width: number;
  height: number;
  /** Region of the image as displayed (after orientation) to keep before scaling. */
  crop: CropBox;
  /** Region of the scaled image to keep: the output is this size. */
  cropScaled?: CropBox;
  /** What alpha is flattened onto (default IMAGE_BACKGROUND). */
  background?: { r: number; g: number; b: number };
  /** The resize, from the backbone's preprocessing (default bicubic). */
  interpolation?: 'bicubic' | 'bilinear' | 'lanczos' | 'nearest';
}

/** sharp's resize kernel for each interpolation (the same names ffmpeg's scaler gets in decode.ts). */
const SHARP_KERNELS = { bicubic: 'cubic', bilinear: 'linear', lanczos: 'lanczos3', nearest: 'nearest' } as const;

/**
 * The first frame of an image as displayed: rgb24 [height, width, 3], cropped, scaled
 * (bicubic unless told otherwise) and cut (`cropScaled`). The crop is always given, the whole image if need be: with one, sharp turns the
 * image (EXIF orientation) before it scales it; without, it scales the stored image and turns
 * the result, which differs by a level here and there from the upright picture scaled.
 */
export async function decodeImage(file: string, options: ImageDecodeOptions): Promise<Uint8Array> {
  const { crop, cropScaled: after } = options;
  const { width, height } = after ?? options;
  try {
    let image = sharp(file, { autoOrient: true, limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'error', page: 0, pages: 1 })
      .flatten({ background: options.background ?? IMAGE_BACKGROUND })
      .toColourspace('srgb')
      .extract({ left: crop.x, top: crop.y, width: crop.width, height: crop.height })
      .resize(options.width, options.height, { fit: 'fill', kernel: SHARP_KERNELS[options.interpolation ?? 'bicubic'] });
    if (after) image = image.extract({ left: after.x, top: after.y, width: after.width, height: after.height });
    const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== width * height * 3) {
      throw new Error(`got ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×3`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (error) {
    throw sharpError(file, error);
  }
}

/** rgb24 [height, width, 3] → PNG bytes. */
export async function encodePng(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
}
