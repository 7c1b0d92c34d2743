// One safetensors reader and writer, for backbone weights, feature files and checkpoints.
//
// Format: u64 little-endian header length N, N bytes of JSON header, then the data. The header
// maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (relative to the data
// start), plus an optional "__metadata__" map of strings.
//
// The header is untrusted input: every field is checked before a byte of data is read, and a
// tensor is read on its own at its file offset, never the file as one buffer, so files over
// 4 GiB work and a lying header cannot make us allocate more than the file holds.
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { LosaError } from './errors.js';
import { openAtomicFile, withAtomicFile } from './fsutil.js';

export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<Dtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Absolute byte offsets in the file, [begin, end). */
  begin: number;
  end: number;
}

/** Headers larger than this are refused: real ones are kilobytes to a few megabytes. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>,
    readonly fileSize: number,
    readonly headerBytes: Uint8Array,
  ) {}

  /** Open and validate a safetensors file; errors are one line naming the file. */
  static async open(file: string): Promise<SafetensorsFile> {
    let handle: FileHandle;
    try {
      handle = await fs.open(file, 'r');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // The cause keeps the errno code, so callers tell a missing file from other failures by it.
      throw new LosaError(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot open (${code ?? String(error)})`}`, { cause: error });
    }
    try {
      const { size } = await handle.stat();
      const fail = (problem: string): never => {
        throw new LosaError(`${file}: not a valid safetensors file: ${problem}`);
      };
      if (size < 8) fail(`file is ${size} bytes, shorter than the 8-byte header length`);
      const lenBuf = Buffer.alloc(8);
      await handle.read(lenBuf, 0, 8, 0);
      const headerLen = lenBuf.readBigUInt64LE(0);
      if (headerLen > BigInt(size - 8)) fail(`header length ${headerLen} runs past the end of the file (${size} bytes)`);
      if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen} is over the ${MAX_HEADER_BYTES}-byte limit`);
      const n = Number(headerLen);
      const headerBytes = Buffer.alloc(n);
      await handle.read(headerBytes, 0, n, 8);
      let header: unknown;
      try {
        header = JSON.parse(headerBytes.toString('utf8'));
      } catch (error) {
        fail(`header is not valid JSON (${(error as Error).message})`);
      }
      if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
      const dataStart = 8 + n;
      const dataLen = size - dataStart;
      const tensors = new Map<string, TensorInfo>();
      let metadata: Record<string, string> = {};
      for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
        if (name === '__metadata__') {
          if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ is not an object');
          metadata = Object.fromEntries(Object.entries(raw as object).map(([k, v]) => [k, String(v)]));
          continue;
        }
        const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
        if (typeof entry !== 'object' || entry === null) fail(`tensor "${name}" is not an object`);
        if (typeof entry.dtype !== 'string' || !(entry.dtype in DTYPE_BYTES)) {
          fail(`tensor "${name}" has unknown dtype ${JSON.stringify(entry.dtype)}`);
        }
        const dtype = entry.dtype as Dtype;
        const shape = entry.shape;
        if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
          fail(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
        }
        const offsets = entry.data_offsets;
        if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
          fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
        }
        const [b, e] = offsets as [number, number];
        if (e < b || e > dataLen) fail(`tensor "${name}" data_offsets [${b}, ${e}] lie outside the ${dataLen} bytes of data`);
        const count = (shape as number[]).reduce((a, d) => a * d, 1);
        const expectedBytes = count * DTYPE_BYTES[dtype];
        if (expectedBytes !== e - b) {
          fail(`tensor "${name}" has ${e - b} bytes but shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${expectedBytes}`);
        }
        tensors.set(name, { name, dtype, shape: shape as number[], begin: dataStart + b, end: dataStart + e });
      }
      const sorted = [...tensors.values()].filter((t) => t.end > t.begin).sort((x, y) => x.begin - y.begin);
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i]!.begin < sorted[i - 1]!.end) fail(`tensors "${sorted[i - 1]!.name}" and "${sorted[i]!.name}" overlap`);
      }
      return new SafetensorsFile(file, handle, tensors, metadata, size, headerBytes);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new LosaError(`${this.path}: no tensor named "${name}"`);
    return t;
  }

  /** The tensor's raw bytes, read at its offset. */
  async readRaw(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    const bytes = new Uint8Array(t.end - t.begin);
    let done = 0;
    // A single read is capped near 2 GiB by the OS: read in pieces.
    while (done < bytes.length) {
      const want = Math.min(bytes.length - done, 1 << 30);
      const { bytesRead } = await this.handle.read(bytes, done, want, t.begin + done);
      if (bytesRead === 0) throw new LosaError(`${this.path}: tensor "${name}" is cut short (file truncated)`);
      done += bytesRead;
    }
    return bytes;
  }

  /** The tensor as float32, converted from F32, F16, BF16 or F64. */
  async readFloat32(name: string): Promise<Float32Array> {
    const t = this.info(name);
    const raw = await this.readRaw(name);
    return toFloat32(raw, t.dtype, `${this.path}: tensor "${name}"`);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Convert little-endian raw bytes of a float dtype to a fresh Float32Array. */
export function toFloat32(raw: Uint8Array, dtype: Dtype, what = 'tensor'): Float32Array {
  const n = raw.byteLength / DTYPE_BYTES[dtype];
  // Copy into an aligned buffer first: file reads can land at any byte offset.
  const aligned = raw.byteOffset % 8 === 0 ? raw : raw.slice();
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned.buffer.slice(aligned.byteOffset, aligned.byteOffset + aligned.byteLength));
    case 'F64':
      return Float32Array.from(new Float64Array(aligned.buffer, aligned.byteOffset, n));
    case 'F16': {
      const src = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16ToF32(src[i]!);
      return out;
    }
    case 'BF16': {
      const src = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
      return out;
    }
    default:
      throw new LosaError(`${what} has dtype ${dtype}, expected a float type (F32, F16 or BF16)`);
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Round-to-nearest-even float32 → float16 bits. */
export function f32ToF16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** Round-to-nearest-even float32 → bfloat16 bits. */
export function f32ToBf16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export interface TensorToWrite {
  name: string;
  shape: number[];
  /** Float32Array data is written as `dtype` (default F32); other arrays are written as their own type. */
  data: Float32Array | Float64Array | Int32Array | Uint8Array | BigInt64Array;
  dtype?: Dtype;
}

function encode(t: TensorToWrite): { dtype: Dtype; bytes: Uint8Array } {
  const { data } = t;
  if (data instanceof Float32Array) {
    const dtype = t.dtype ?? 'F32';
    if (dtype === 'F32') return { dtype, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
    if (dtype === 'F16' || dtype === 'BF16') {
      const out = new Uint16Array(data.length);
      const conv = dtype === 'F16' ? f32ToF16 : f32ToBf16;
      for (let i = 0; i < data.length; i++) out[i] = conv(data[i]!);
      return { dtype, bytes: new Uint8Array(out.buffer) };
    }
    throw new LosaError(`cannot write tensor "${t.name}" of float32 data as ${dtype}`);
  }
  const dtype: Dtype =
    data instanceof Float64Array ? 'F64' : data instanceof Int32Array ? 'I32' : data instanceof BigInt64Array ? 'I64' : 'U8';
  return { dtype, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** The 8-byte length and the JSON header of a file of `tensors` (their shapes and dtypes), data 8-byte aligned. */
function headerBytes(file: string, tensors: { name: string; shape: number[]; dtype: Dtype; count?: number }[], metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (t.count !== undefined && count !== t.count) {
      throw new LosaError(`${file}: tensor "${t.name}" has ${t.count} values but shape [${t.shape.join(', ')}] needs ${count}`);
    }
    const bytes = count * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned, as the reference implementation does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBuf = Buffer.from(json, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(headerBuf.length));
  return Buffer.concat([lenBuf, headerBuf]);
}

/**
 * Write tensors to `file` atomically (temporary name, then rename), tensor by tensor, so the
 * file is never built as one buffer in memory.
 */
export async function writeSafetensors(
  file: string,
  tensors: TensorToWrite[],
  metadata: Record<string, string> = {},
): Promise<void> {
  const specs = tensors.map((t) => ({ name: t.name, shape: t.shape, count: t.data.length, dtype: t.data instanceof Float32Array ? t.dtype ?? 'F32' : encode(t).dtype }));
  const header = headerBytes(file, specs, metadata);
  await withAtomicFile(file, async (tmp) => {
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.write(header);
      for (const t of tensors) await handle.write(encode(t).bytes);
    } finally {
      await handle.close();
    }
  });
}

/**
 * One float32 tensor written in pieces as they are computed (`losa features` on a long clip
 * never holds the whole tensor): the header goes first, since the shape is known, then each
 * piece at its offset. `commit` syncs and renames the file into place; `abort` removes it.
 */
export interface SafetensorsWriter {
  /** Values starting at flat index `at` of the tensor. */
  write(at: number, values: Float32Array): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export async function openSafetensorsWriter(file: string, tensor: { name: string; shape: number[] }, metadata: Record<string, string> = {}): Promise<SafetensorsWriter> {
  const header = headerBytes(file, [{ ...tensor, dtype: 'F32' }], metadata);
  const count = tensor.shape.reduce((a, d) => a * d, 1);
  const target = await openAtomicFile(file);
  const handle = await fs.open(target.tmp, 'w').catch(async (error: unknown) => {
    await target.abort();
    throw error;
  });
  const close = async (): Promise<void> => {
    await handle.close().catch(() => {});
  };
  try {
    await handle.write(header, 0, header.length, 0);
    await handle.truncate(header.length + count * 4); // the data's full size: pieces may come in any order
  } catch (error) {
    await close();
    await target.abort();
    throw error;
  }
  return {
    async write(at, values) {
      if (at < 0 || at + values.length > count) throw new RangeError(`${file}: values ${at}…${at + values.length} outside the tensor's ${count}`);
      await handle.write(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), 0, values.byteLength, header.length + at * 4);
    },
    async commit() {
      await close();
      await target.commit().catch(async (error: unknown) => {
        await target.abort();
        throw error;
      });
    },
    async abort() {
      await close();
      await target.abort();
    },
  };
}

/** Read a whole small safetensors file (features, checkpoints) into float32 arrays. */
export async function readSafetensorsFloat32(
  file: string,
): Promise<{ tensors: Map<string, { shape: number[]; data: Float32Array }>; metadata: Record<string, string> }> {
  const st = await SafetensorsFile.open(file);
  try {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const name of st.names()) tensors.set(name, { shape: st.info(name).shape, data: await st.readFloat32(name) });
    return { tensors, metadata: st.metadata };
  } finally {
    await st.close();
  }
}
