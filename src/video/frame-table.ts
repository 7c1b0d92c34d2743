// The frame table of a video: when each frame is shown and which frames are keyframes, from one
// demuxing pass over its packets (no decoding). It is what lets decode.ts seek and still give
// frame-exact results: frame i is the frame shown at times[i], wherever decoding starts.
//
// Seeking: to decode frame w, ffmpeg starts at the last keyframe k shown at or before w (with
// open GOPs, frames just before a keyframe in display order may follow it in the file and need
// the previous GOP; they are never asked of a decode that starts at that keyframe, because a
// frame shown before k starts from an earlier keyframe). Frames are then picked by their time,
// not by counting, so frames the decoder drops or adds after a seek cannot shift the count.

/** ffmpeg seeks this much before the time asked when a stream has B-frames (fftools' "dts heuristic"). */
export const FFMPEG_SEEK_BACKOFF_SECONDS = 3 / 23;

/**
 * A new decoder process costs about as much as decoding this many pixels of frames (measured on
 * the 2-core reference machine: about 15 ms to start ffmpeg and reach the first frame, against
 * 1.3 ms per 1280×720 H.264 frame), so a gap of fewer frames than that is decoded through rather
 * than sought over.
 */
export const SEEK_COST_PIXELS = 10e6;

export interface FrameTable {
  /** Presentation time in seconds of every frame, strictly ascending. */
  times: Float64Array;
  /** Indices (into `times`) of the keyframes, ascending. */
  keyframes: Int32Array;
  /** Whether ffmpeg backs off its seeks for this file (a video stream with B-frames). */
  backoff: boolean;
  /** Whether ffmpeg's seek in this container lands on keyframes (not in MPEG-TS/PS: decode from the start). */
  seekable: boolean;
  /** Half-width (s) of the window a frame is picked in: a quarter of the smallest gap between frames. */
  tolerance: number;
}

/** Collects (pts, flags) of packets in file order; `build` sorts them into a FrameTable. */
export class FrameTableBuilder {
  private pts = new Float64Array(1024);
  private keys: number[] = [];
  private missingPts = false;
  /** Frames the decoder will output: packets not marked discard. */
  count = 0;
  /** Packets an edit list drops: decoded for reference, never shown. */
  discarded = 0;

  add(pts: number | undefined, flags: string): void {
    if (flags.includes('D')) {
      this.discarded++;
      return;
    }
    if (pts === undefined) this.missingPts = true;
    if (this.count === this.pts.length) {
      const grown = new Float64Array(this.pts.length * 2);
      grown.set(this.pts);
      this.pts = grown;
    }
    this.pts[this.count] = pts ?? NaN;
    if (flags.startsWith('K')) this.keys.push(pts ?? NaN);
    this.count++;
  }

  /** The table, or why the packets cannot be sought by (then decoding starts at the first frame). */
  build(timeBase: number, backoff: boolean, seekable = true): { table?: FrameTable; problem?: string } {
    if (this.count === 0) return { problem: 'no packets' };
    if (this.missingPts) return { problem: 'packets without timestamps' };
    if (!(timeBase > 0)) return { problem: 'no time base' };
    const times = this.pts.slice(0, this.count).sort();
    let minGap = Infinity;
    for (let i = 1; i < times.length; i++) minGap = Math.min(minGap, times[i]! - times[i - 1]!);
    if (!(minGap > 0)) return { problem: 'two frames with the same timestamp' };
    for (let i = 0; i < times.length; i++) times[i] = times[i]! * timeBase;
    const keyframes = Int32Array.from(this.keys.map((pts) => lowerBound(times, pts * timeBase))).sort();
    if (keyframes.length === 0) return { problem: 'no keyframes' };
    const tolerance = times.length > 1 ? (minGap * timeBase) / 4 : 1e-3;
    if (tolerance < 1e-6) return { problem: 'frames less than 4 µs apart' };
    return { table: { times, keyframes, backoff, seekable, tolerance } };
  }
}

/** First position in ascending `values` whose value is ≥ `x`. */
function lowerBound(values: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The last keyframe at or before frame `index`, or −1 when none is (decode from the file's start). */
export function keyframeBefore(table: FrameTable, index: number): number {
  const after = lowerBound(table.keyframes, index + 1);
  return after === 0 ? -1 : table.keyframes[after - 1]!;
}

/** A run of decoding: from `start` (a keyframe, or −1 for the file's start) on, output `frames`. */
export interface Segment {
  start: number;
  /** Frame indices to output, ascending. */
  frames: number[];
}

/** The gap in frames below which decoding on is cheaper than a new seek (see SEEK_COST_PIXELS). */
export function mergeGap(width: number, height: number): number {
  return Math.max(8, Math.round(SEEK_COST_PIXELS / Math.max(1, width * height)));
}

/**
 * Group frames (ascending, unique, within the table) into segments: a frame joins the current
 * segment when its keyframe is at most `gap` frames past the segment's last frame, else it
 * starts a new one at its keyframe.
 */
export function planSegments(table: FrameTable, frames: readonly number[], gap: number): Segment[] {
  const segments: Segment[] = [];
  let current: Segment | undefined;
  for (const frame of frames) {
    const key = keyframeBefore(table, frame);
    if (current && key - current.frames[current.frames.length - 1]! <= gap) current.frames.push(frame);
    else segments.push((current = { start: key, frames: [frame] }));
  }
  return segments;
}

/**
 * The `-ss` that makes ffmpeg start decoding at keyframe `start` (undefined: no seek). ffmpeg
 * seeks to the last keyframe at or before the time asked, after backing off 3/23 s for files
 * with B-frames; so the time asked is the keyframe's plus that back-off, but never past the
 * middle of the gap to the next keyframe. Microseconds, rounded up.
 */
export function seekSeconds(table: FrameTable, start: number): number | undefined {
  if (start <= 0) return undefined;
  const at = table.times[start]!;
  const k = lowerBound(table.keyframes, start + 1);
  const next = k < table.keyframes.length ? table.times[table.keyframes[k]!]! : Infinity;
  const ahead = table.backoff ? Math.min(FFMPEG_SEEK_BACKOFF_SECONDS, (next - at) / 2) : 0;
  return Math.ceil((at + ahead) * 1e6) / 1e6;
}

/** ffmpeg `select` expression picking `frames` (ascending) by time: runs become one `between`. */
export function timeSelectExpression(table: FrameTable, frames: readonly number[]): string {
  const terms: string[] = [];
  const tol = table.tolerance;
  for (let i = 0; i < frames.length; ) {
    let j = i;
    while (j + 1 < frames.length && frames[j + 1] === frames[j]! + 1) j++;
    const from = table.times[frames[i]!]! - tol;
    const to = table.times[frames[j]!]! + tol;
    terms.push(`between(t\\,${from.toFixed(9)}\\,${to.toFixed(9)})`);
    i = j + 1;
  }
  return terms.join('+');
}

/** The frame shown at `seconds` (within the table's tolerance), or −1 when none is. */
export function frameAtTime(table: FrameTable, seconds: number): number {
  const i = lowerBound(table.times, seconds - table.tolerance);
  return i < table.times.length && Math.abs(table.times[i]! - seconds) <= table.tolerance ? i : -1;
}
