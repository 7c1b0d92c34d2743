// The backbone's preprocessing: rgb24 frames, already cropped to the model's size, become the
// normalised float32 planes the graph takes. It travels with the backbone (mean and std are in
// its config), so callers hand over bytes and never normalise themselves.
/** rgb24 [T, S, S, 3] → float32 [T, 3, S, S] with (x / 255 − mean) / std per channel. */
export function normalizeFrames(
  frames: Uint8Array,
  numFrames: number,
  size: number,
  mean: readonly number[],
  std: readonly number[],
  /** Write into this array at `offset` instead of a new one (batches are built in place). */
  out: Float32Array = new Float32Array(numFrames * 3 * size * size), // [T, 3, S, S]
  offset = 0,
): Float32Array {
  const plane = size * size;
  if (frames.length !== numFrames * plane * 3) {
    throw new RangeError(`normalizeFrames: expected ${numFrames}×${size}×${size}×3 bytes, got ${frames.length}`);
  }
  if (offset + numFrames * 3 * plane > out.length) throw new RangeError(`normalizeFrames: output too short for ${numFrames} frames at offset ${offset}`);
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * std[c]!);
    const shift = mean[c]! / std[c]!;
    for (let t = 0; t < numFrames; t++) {
      const src = t * plane * 3 + c;
      const dst = offset + (t * 3 + c) * plane;
      for (let p = 0; p < plane; p++) out[dst + p] = frames[src + p * 3]! * scale - shift;
    }
  }
  return out;
}
