// Position embeddings of a checkpoint trained on another patch grid are resampled at load time,
// as the family's own code does:
// - `bicubic`: PyTorch's bicubic (Keys' kernel with a = -0.75, align_corners = false, border
//   pixels repeated), which Hugging Face's ViT, CLIP, SigLIP and DINOv2 `interpolate_pos_encoding`
//   use (their current releases pass the output size; older DINOv2 and SigLIP releases passed a
//   scale factor with a 0.1 offset instead, which moves the outermost samples by up to a tenth
//   of an output cell);
// - `bicubic-aa`: PyTorch's antialiased bicubic (a = -0.5, the kernel stretched by the
//   downscale factor, weights renormalised at the borders), which timm's `resample_abs_pos_embed`,
//   open_clip's `resize_pos_embed` and Hugging Face's DINOv2 with registers use.
// Only the patch part is resampled; the class token's embedding is kept.

export type PosResample = 'bicubic' | 'bicubic-aa';

/** Keys' cubic convolution kernel with parameter a, at distance x. */
function cubic(x: number, a: number): number {
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/** One axis: for output o, taps start[o] … start[o+1]-1 of `index` and `weight`. */
interface AxisTaps {
  start: Int32Array;
  index: Int32Array;
  weight: Float64Array;
}

function packTaps(rows: { index: number[]; weight: number[] }[]): AxisTaps {
  const start = new Int32Array(rows.length + 1);
  rows.forEach((r, o) => { start[o + 1] = start[o]! + r.index.length; });
  const index = new Int32Array(start[rows.length]!);
  const weight = new Float64Array(start[rows.length]!);
  rows.forEach((r, o) => { index.set(r.index, start[o]); weight.set(r.weight, start[o]); });
  return { start, index, weight };
}

/** PyTorch's bicubic taps: 4 per output, indices clamped to the border. */
function bicubicTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  return packTaps(Array.from({ length: outSize }, (_, o) => {
    const src = (o + 0.5) * scale - 0.5;
    const base = Math.floor(src);
    const t = src - base;
    return {
      index: [0, 1, 2, 3].map((k) => Math.min(inSize - 1, Math.max(0, base - 1 + k))),
      weight: [cubic(t + 1, -0.75), cubic(t, -0.75), cubic(1 - t, -0.75), cubic(2 - t, -0.75)],
    };
  }));
}

/** PyTorch's antialiased bicubic taps: a = -0.5, support 2·scale when shrinking, normalised. */
function antialiasedTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  const support = scale >= 1 ? 2 * scale : 2;
  const invScale = scale >= 1 ? 1 / scale : 1;
  return packTaps(Array.from({ length: outSize }, (_, o) => {
    const center = scale * (o + 0.5);
    // C++ truncation toward zero, as PyTorch computes the window.
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const index: number[] = [];
    const weight: number[] = [];
    for (let j = lo; j < hi; j++) {
      index.push(j);
      weight.push(cubic((j - center + 0.5) * invScale, -0.5));
    }
    const total = weight.reduce((a, w) => a + w, 0);
    return { index, weight: total !== 0 ? weight.map((w) => w / total) : weight };
  }));
}

function axisTaps(inSize: number, outSize: number, mode: PosResample): AxisTaps {
  return mode === 'bicubic' ? bicubicTaps(inSize, outSize) : antialiasedTaps(inSize, outSize);
}

/**
 * Resize a grid of vectors [inH, inW, D] (row-major) to [outH, outW, D]. Separable: rows
 * first, then columns, in float64.
 */
export function resizeBicubic(
  src: Float32Array, inH: number, inW: number, dim: number, outH: number, outW: number, mode: PosResample = 'bicubic',
): Float32Array {
  if (src.length !== inH * inW * dim) throw new Error(`resizeBicubic: ${src.length} values, expected ${inH}×${inW}×${dim}`);
  const tx = axisTaps(inW, outW, mode);
  const ty = axisTaps(inH, outH, mode);
  const wide = new Float64Array(inH * outW * dim); // [inH, outW, D]
  for (let y = 0; y < inH; y++) {
    for (let ox = 0; ox < outW; ox++) {
      const out = (y * outW + ox) * dim;
      for (let k = tx.start[ox]!; k < tx.start[ox + 1]!; k++) {
        const w = tx.weight[k]!;
        const from = (y * inW + tx.index[k]!) * dim;
        for (let c = 0; c < dim; c++) wide[out + c] += w * src[from + c]!;
      }
    }
  }
  const result = new Float32Array(outH * outW * dim); // [outH, outW, D]
  const acc = new Float64Array(dim);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      acc.fill(0);
      for (let k = ty.start[oy]!; k < ty.start[oy + 1]!; k++) {
        const w = ty.weight[k]!;
        const from = (ty.index[k]! * outW + ox) * dim;
        for (let c = 0; c < dim; c++) acc[c] += w * wide[from + c]!;
      }
      result.set(acc, (oy * outW + ox) * dim);
    }
  }
  return result;
}

/**
 * Fit a checkpoint's position embedding to the graph's token layout.
 * `pos` is [srcPrefix + gs², D] (srcPrefix 0 or 1: whether the checkpoint gave the class token
 * its own embedding); the result is [prefix + g², D] with prefix = 1 when the graph has a class
 * token. A class token without its own embedding (timm's no_embed_class) gets zeros, which
 * leaves it as it is. Returns `pos` itself when nothing changes.
 */
export function fitPositionEmbedding(
  pos: Float32Array, srcPrefix: number, gs: number, prefix: number, g: number, dim: number, mode: PosResample = 'bicubic',
): Float32Array {
  if (srcPrefix === prefix && gs === g) return pos;
  const patches = pos.subarray(srcPrefix * dim);
  const grid = gs === g ? patches : resizeBicubic(patches, gs, gs, dim, g, g, mode);
  const out = new Float32Array((prefix + g * g) * dim); // [prefix + g², D]
  if (prefix === 1 && srcPrefix === 1) out.set(pos.subarray(0, dim));
  out.set(grid, prefix * dim);
  return out;
}
