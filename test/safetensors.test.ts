import { describe, expect, it, beforeAll } from 'vitest';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  SafetensorsFile, writeSafetensors, readSafetensorsFloat32, openSafetensorsWriter, f16ToF32, f32ToF16, f32ToBf16,
} from '../src/safetensors.js';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-st-'));
});

/** Build a file by hand, independent of the writer under test. */
async function rawFile(name: string, header: unknown, data: Uint8Array, headerLenOverride?: bigint): Promise<string> {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLenOverride ?? BigInt(json.length));
  const file = path.join(dir, name);
  await fs.writeFile(file, Buffer.concat([len, json, data]));
  return file;
}

describe('safetensors reader', () => {
  it('reads a hand-built F32 file tensor by tensor', async () => {
    const a = new Float32Array([1, 2, 3, 4, 5, 6]);
    const b = new Float32Array([-1.5]);
    const data = Buffer.concat([Buffer.from(a.buffer), Buffer.from(b.buffer)]);
    const file = await rawFile('ok.safetensors', {
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      b: { dtype: 'F32', shape: [1], data_offsets: [24, 28] },
    }, data);
    const st = await SafetensorsFile.open(file);
    expect(st.names().sort()).toEqual(['a', 'b']);
    expect(st.info('a').shape).toEqual([2, 3]);
    expect(Array.from(await st.readFloat32('a'))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(await st.readFloat32('b'))).toEqual([-1.5]);
    expect(st.metadata).toEqual({ format: 'pt' });
    await st.close();
  });

  it('round-trips through the writer in F32, F16 and BF16', async () => {
    const values = new Float32Array([0, 1, -2, 0.5, 3.140625, 65504, 1e-3]);
    const file = path.join(dir, 'rt.safetensors');
    await writeSafetensors(file, [
      { name: 'f32', shape: [7], data: values },
      { name: 'f16', shape: [7], data: values, dtype: 'F16' },
      { name: 'bf16', shape: [7], data: values, dtype: 'BF16' },
    ], { note: 'x' });
    const { tensors, metadata } = await readSafetensorsFloat32(file);
    expect(metadata.note).toBe('x');
    expect(Array.from(tensors.get('f32')!.data)).toEqual(Array.from(values));
    const f16 = tensors.get('f16')!.data;
    const bf16 = tensors.get('bf16')!.data;
    for (let i = 0; i < values.length; i++) {
      expect(Math.abs(f16[i]! - values[i]!)).toBeLessThanOrEqual(Math.abs(values[i]!) * 2 ** -11 + 1e-7);
      expect(Math.abs(bf16[i]! - values[i]!)).toBeLessThanOrEqual(Math.abs(values[i]!) * 2 ** -8);
    }
    // Header starts data 8-byte aligned.
    const buf = await fs.readFile(file);
    expect((8 + Number(buf.readBigUInt64LE(0))) % 8).toBe(0);
  });

  it('converts half-precision bit patterns exactly', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(f32ToF16(1e6)).toBe(0x7c00);
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(f32ToBf16(-2)).toBe(0xc000);
  });

  const bad: [string, unknown, Uint8Array, bigint | undefined, RegExp][] = [
    ['header length past the file', {}, new Uint8Array(0), 1n << 40n, /header length .* runs past the end/],
    ['bad JSON', '{"a": ', new Uint8Array(0), undefined, /not valid JSON/],
    ['offsets outside the data', { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8), undefined, /outside the 8 bytes/],
    ['overlapping tensors', {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    }, new Uint8Array(12), undefined, /overlap/],
    ['unknown dtype', { a: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1), undefined, /unknown dtype "Q4"/],
    ['byte length not matching the shape', { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8), undefined, /has 8 bytes but shape \[3\] of F32 needs 12/],
    ['negative shape', { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4), undefined, /invalid shape/],
    ['a huge shape with tiny offsets', { a: { dtype: 'F32', shape: [1e9, 1e9], data_offsets: [0, 4] } }, new Uint8Array(4), undefined, /needs/],
  ];
  for (const [what, header, data, len, message] of bad) {
    it(`rejects ${what} with one line naming the file`, async () => {
      const file = await rawFile(`bad-${what.replace(/\W+/g, '-')}.safetensors`, header, data, len);
      const err = await SafetensorsFile.open(file).then(() => null, (e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err!.message).toMatch(message);
      expect(err!.message).toContain(file);
      expect(err!.message).not.toContain('\n');
    });
  }

  it('rejects a file shorter than 8 bytes and a missing file', async () => {
    const short = path.join(dir, 'short.safetensors');
    await fs.writeFile(short, 'abc');
    await expect(SafetensorsFile.open(short)).rejects.toThrow(/shorter than the 8-byte header length/);
    await expect(SafetensorsFile.open(path.join(dir, 'nope.safetensors'))).rejects.toThrow(/nope\.safetensors: no such file/);
  });

  it('reports a truncated file when a tensor is read', async () => {
    const file = path.join(dir, 'trunc.safetensors');
    await writeSafetensors(file, [{ name: 'a', shape: [1000], data: new Float32Array(1000) }]);
    const st = await SafetensorsFile.open(file);
    await fs.truncate(file, st.info('a').begin + 100);
    await expect(st.readRaw('a')).rejects.toThrow(/cut short/);
    await st.close();
  });
});

describe('safetensors writer in pieces', () => {
  it('writes pieces in any order into the bytes the whole-tensor writer makes; nothing at the target until commit', async () => {
    const values = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 100); // [4, 6]
    const whole = path.join(dir, 'whole.safetensors');
    await writeSafetensors(whole, [{ name: 'features', shape: [4, 6], data: values }], { k: 'v' });
    const pieces = path.join(dir, 'pieces.safetensors');
    const writer = await openSafetensorsWriter(pieces, { name: 'features', shape: [4, 6] }, { k: 'v' });
    for (const row of [2, 0, 3, 1]) await writer.write(row * 6, values.subarray(row * 6, (row + 1) * 6));
    await expect(fs.stat(pieces)).rejects.toThrow(/ENOENT/);
    await expect(writer.write(20, values.subarray(0, 6))).rejects.toThrow(/outside/);
    await writer.commit();
    expect(Buffer.compare(await fs.readFile(pieces), await fs.readFile(whole))).toBe(0);
    expect((await fs.readdir(dir)).filter((n) => n.includes('pieces') && n.includes('.tmp-'))).toEqual([]);
  });

  it('abort leaves neither the file nor its temporary name', async () => {
    const file = path.join(dir, 'aborted.safetensors');
    const writer = await openSafetensorsWriter(file, { name: 'features', shape: [2, 2] });
    await writer.write(0, new Float32Array([1, 2]));
    await writer.abort();
    expect((await fs.readdir(dir)).filter((n) => n.includes('aborted'))).toEqual([]);
  });
});
