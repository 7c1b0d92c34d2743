// Garbage behind streams. Every read from a pipe (ffmpeg's frames, the backbone process's
// messages) is a new buffer whose memory lies outside V8's heap, behind a small object inside
// it. V8 collects its young generation when that fills with objects, which a stream of large
// buffers and few objects hardly does, so tens of MB of dead buffers wait and add to the peak
// resident size (measured: `losa features` at T = 256 held about 30 MB more than at T = 8 in
// each of its two processes). A minor collection after each chunk (about a millisecond, against
// a forward pass of hundreds) keeps what waits to a chunk's worth, whatever the clip length.
import v8 from 'node:v8';
import vm from 'node:vm';

type Collect = (options?: { type?: 'minor' | 'major' }) => void;
let collect: Collect | null | undefined;

/** V8's `gc`, exposed without a command-line flag (a new context gets it once the flag is set), or null. */
function collector(): Collect | null {
  if (collect !== undefined) return collect;
  collect = (globalThis as { gc?: Collect }).gc ?? null;
  if (!collect) {
    try {
      v8.setFlagsFromString('--expose-gc');
      collect = vm.runInNewContext('gc') as Collect;
    } catch {
      collect = null; // a runtime without it: the garbage waits for V8, as before
    }
  }
  return collect;
}

/** Collect the young generation now (the dead buffers of the last chunk). */
export function collectChunkGarbage(): void {
  collector()?.({ type: 'minor' });
}

/**
 * Holds V8's young generation at its present size (from the start of a process, 2 × 1 MiB), or
 * lets it grow again: its growth factor becomes 1, or V8's default 2. V8 doubles the young
 * generation (up to 2 × 16 MiB) whenever enough objects have survived since the last doubling,
 * which a long process always reaches, and a grown young generation stays resident. `losa train`
 * holds it from its start, and lets it go if the side network runs on tfjs's kernels, whose many
 * short-lived objects would then cost many more minor collections (README, "Memory").
 */
export function holdYoungGeneration(hold: boolean): void {
  try {
    v8.setFlagsFromString(`--semi-space-growth-factor=${hold ? 1 : 2}`);
  } catch {
    // a runtime without the flag keeps V8's default
  }
}
