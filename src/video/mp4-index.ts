// The frame table of an MP4 or MOV file from its sample tables (the `moov` box), without
// reading a packet: what the packet pass of probe.ts learns by demuxing the whole file (every
// frame's time, the keyframes), these files state in their index. Reading a few hundred KB of
// index instead of the file makes probing a two-hour video cost what a ten-second one does,
// from the page cache or from a cold disk.
//
// Frame times follow ffmpeg's mov demuxer, so frame i is the same frame either way:
// pts = dts + composition offset (stts, ctts), shifted by the media time of the edit list's
// one edit; samples shown before that edit starts are decoded but not shown (ffmpeg's discard
// flag). Anything else (fragmented files, several or empty edits, partial sync samples,
// a sample count the header disagrees with) returns null, and the packet pass reads the file.
import { promises as fs } from 'node:fs';
import { FrameTableBuilder } from './frame-table.js';

/** The most index read (a two-hour 60 fps video's `moov` is a few MB). */
const MAX_MOOV_BYTES = 256 * 2 ** 20;

interface Box {
  type: string;
  /** Content start and end (after the header). */
  start: number;
  end: number;
}

/** The boxes inside [start, end) of `buf`. */
function* boxesIn(buf: Buffer, start: number, end: number): Generator<Box> {
  for (let at = start; at + 8 <= end; ) {
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      if (at + 16 > end) return;
      size = Number(buf.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) size = end - at;
    if (size < header || at + size > end) return;
    yield { type, start: at + header, end: at + size };
    at += size;
  }
}

function child(buf: Buffer, parent: Box, type: string): Box | undefined {
  for (const box of boxesIn(buf, parent.start, parent.end)) if (box.type === type) return box;
  return undefined;
}

function path(buf: Buffer, parent: Box, ...types: string[]): Box | undefined {
  let box: Box | undefined = parent;
  for (const type of types) box = box && child(buf, box, type);
  return box;
}

/** The `moov` box of the file read whole, or null (none, fragmented, too large). */
async function readMoov(file: string): Promise<Buffer | null> {
  const handle = await fs.open(file, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const head = Buffer.alloc(16);
    for (let at = 0; at + 8 <= fileSize; ) {
      const { bytesRead } = await handle.read(head, 0, 16, at);
      if (bytesRead < 8) return null;
      let size = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      if (size === 1) size = bytesRead < 16 ? 0 : Number(head.readBigUInt64BE(8));
      else if (size === 0) size = fileSize - at;
      if (size < 8) return null;
      if (type === 'moof') return null; // fragmented: the index is spread through the file
      if (type === 'moov') {
        if (size > MAX_MOOV_BYTES || at + size > fileSize) return null;
        const moov = Buffer.alloc(size);
        await handle.read(moov, 0, size, at);
        return moov;
      }
      at += size;
    }
    return null;
  } finally {
    await handle.close();
  }
}

/** A full box's version and its content after version and flags. */
function full(buf: Buffer, box: Box): { version: number; at: number } {
  return { version: buf.readUInt8(box.start), at: box.start + 4 };
}

/** Run-length table (stts, ctts): [count, value] pairs expanded to `n` values; null when they do not add up. */
function expandRuns(buf: Buffer, box: Box, n: number, signed: boolean): Int32Array | Float64Array | null {
  const { at } = full(buf, box);
  const entries = buf.readUInt32BE(at);
  if (at + 4 + entries * 8 > box.end) return null;
  const out = signed ? new Int32Array(n) : new Float64Array(n);
  let i = 0;
  for (let e = 0; e < entries; e++) {
    const count = buf.readUInt32BE(at + 4 + e * 8);
    const value = signed ? buf.readInt32BE(at + 8 + e * 8) : buf.readUInt32BE(at + 8 + e * 8);
    if (i + count > n) return null;
    out.fill(value, i, i + count);
    i += count;
  }
  return i === n ? out : null;
}

/** Byte range of every sample in the file (stsz sizes placed by stsc and stco/co64), to find the ones present. */
function sampleRanges(buf: Buffer, stbl: Box, n: number): { starts: Float64Array; ends: Float64Array } | null {
  const stsz = child(buf, stbl, 'stsz');
  const stsc = child(buf, stbl, 'stsc');
  const stco = child(buf, stbl, 'stco') ?? child(buf, stbl, 'co64');
  if (!stsz || !stsc || !stco) return null;
  const z = full(buf, stsz).at;
  const fixed = buf.readUInt32BE(z);
  const sizeOf = (i: number): number => (fixed !== 0 ? fixed : buf.readUInt32BE(z + 8 + i * 4));
  const wide = stco.type === 'co64';
  const c = full(buf, stco).at;
  const chunks = buf.readUInt32BE(c);
  const chunkOffset = (k: number): number => (wide ? Number(buf.readBigUInt64BE(c + 4 + k * 8)) : buf.readUInt32BE(c + 4 + k * 4));
  const s = full(buf, stsc).at;
  const runs = buf.readUInt32BE(s);
  const starts = new Float64Array(n);
  const ends = new Float64Array(n);
  let sample = 0;
  for (let r = 0; r < runs; r++) {
    const first = buf.readUInt32BE(s + 4 + r * 12) - 1;
    const perChunk = buf.readUInt32BE(s + 8 + r * 12);
    const last = r + 1 < runs ? buf.readUInt32BE(s + 4 + (r + 1) * 12) - 1 : chunks;
    for (let k = first; k < last && k < chunks; k++) {
      let offset = chunkOffset(k);
      for (let j = 0; j < perChunk && sample < n; j++, sample++) {
        starts[sample] = offset;
        offset += sizeOf(sample);
        ends[sample] = offset;
      }
    }
  }
  return sample === n ? { starts, ends } : null;
}

/** The one edit's media time (0 without an edit list), or null for edit lists ffmpeg would apply otherwise. */
function editShift(buf: Buffer, trak: Box): number | null {
  const elst = path(buf, trak, 'edts', 'elst');
  if (!elst) return 0;
  const { version, at } = full(buf, elst);
  const entries = buf.readUInt32BE(at);
  if (entries !== 1) return null;
  const mediaTime = version === 1 ? Number(buf.readBigInt64BE(at + 12)) : buf.readInt32BE(at + 8);
  const rate = buf.readInt32BE(at + (version === 1 ? 20 : 12));
  return mediaTime >= 0 && rate === 0x10000 ? mediaTime : null;
}

/**
 * The packets of the `streamIndex`-th track as the packet pass would count them (pts in the
 * track's time base, keyframe and discard flags, unreadable samples of a cut file left out),
 * or null when the file is not one this reader follows ffmpeg on.
 */
export async function mp4FrameTable(file: string, streamIndex: number, headerFrames: number): Promise<FrameTableBuilder | null> {
  const moov = await readMoov(file);
  if (!moov) return null;
  const root: Box = { type: 'moov', start: 8, end: moov.length };
  if (child(moov, root, 'mvex')) return null;
  const trak = [...boxesIn(moov, root.start, root.end)].filter((b) => b.type === 'trak')[streamIndex];
  const stbl = trak && path(moov, trak, 'mdia', 'minf', 'stbl');
  const hdlr = trak && path(moov, trak, 'mdia', 'hdlr');
  if (!stbl || !hdlr || moov.toString('latin1', hdlr.start + 8, hdlr.start + 12) !== 'vide') return null;
  if (child(moov, stbl, 'stps')) return null;
  const stsz = child(moov, stbl, 'stsz');
  const stts = child(moov, stbl, 'stts');
  if (!stsz || !stts) return null;
  const n = moov.readUInt32BE(full(moov, stsz).at + 4);
  if (n === 0 || n !== headerFrames) return null;
  const shift = editShift(moov, trak);
  const deltas = expandRuns(moov, stts, n, false);
  const cttsBox = child(moov, stbl, 'ctts');
  const offsets = cttsBox ? expandRuns(moov, cttsBox, n, true) : new Int32Array(n);
  const ranges = sampleRanges(moov, stbl, n);
  if (shift === null || !deltas || !offsets || !ranges) return null;
  const stss = child(moov, stbl, 'stss');
  const sync = stss ? new Set(readSyncSamples(moov, stss)) : null;
  const { size: fileSize } = await fs.stat(file);
  const pts = new Float64Array(n);
  let readable = 0;
  let firstShown = Infinity;
  for (let dts = 0; readable < n && ranges.starts[readable]! < fileSize; dts += deltas[readable]!, readable++) {
    pts[readable] = dts + offsets[readable]! - shift;
    if (pts[readable]! >= 0) firstShown = Math.min(firstShown, pts[readable]!);
  }
  // A cut file ends in its last sample that begins: the demuxer reads it, marked corrupt (not a
  // keyframe, whatever the index says). Shown frames start at 0.
  const origin = Number.isFinite(firstShown) ? firstShown : 0;
  // As ffmpeg does, an edit that starts mid-GOP keeps the samples from the keyframe before it
  // (decoded, not shown); earlier ones are dropped.
  let from = 0;
  for (let i = 0, dts = 0; i < readable && dts <= shift; dts += deltas[i]!, i++) if (sync === null || sync.has(i + 1)) from = i;
  const builder = new FrameTableBuilder();
  for (let i = from; i < readable; i++) {
    const key = (sync === null || sync.has(i + 1)) && ranges.ends[i]! <= fileSize;
    builder.add(pts[i]! - origin, pts[i]! < 0 ? '__D' : key ? 'K__' : '___');
  }
  return builder;
}

function readSyncSamples(buf: Buffer, stss: Box): number[] {
  const { at } = full(buf, stss);
  const entries = buf.readUInt32BE(at);
  return Array.from({ length: Math.min(entries, (stss.end - at - 4) / 4) }, (_, k) => buf.readUInt32BE(at + 4 + k * 4));
}
