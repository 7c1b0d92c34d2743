// Position embeddings of a checkpoint trained on another patch grid are resampled bicubically
// at load time, as Hugging Face's ViT `interpolate_pos_encoding` and timm's
// `resample_abs_pos_embed` do: PyTorch's bicubic (a = -0.75, align_corners = false, border
// pixels repeated), applied to the patch part only; the class token's embedding is kept.

/** Keys' cubic convolution weights for the 4 taps at offset t ∈ [0,1), with a = -0.75 (PyTorch). */
function cubicWeights(t: number): [number, number, number, number] {
  const a = -0.75;
  const near = (x: number): number => ((a + 2) * x - (a + 3)) * x * x + 1; // |x| ≤ 1
  const far = (x: number): number => ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; // 1 < |x| < 2
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/** For each output index, the 4 clamped input indices and their weights (one axis). */
function axisTaps(inSize: number, outSize: number): { index: Int32Array; weight: Float64Array } {
  const index = new Int32Array(outSize * 4);
  const weight = new Float64Array(outSize * 4);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = (o + 0.5) * scale - 0.5;
    const base = Math.floor(src);
    const w = cubicWeights(src - base);
    for (let k = 0; k < 4; k++) {
      index[o * 4 + k] = Math.min(inSize - 1, Math.max(0, base - 1 + k));
      weight[o * 4 + k] = w[k]!;
    }
  }
  return { index, weight };
}

/**
 * Resize a grid of vectors [inH, inW, D] (row-major) to [outH, outW, D] bicubically.
 * Separable: rows first, then columns, in float64.
 */
export function resizeBicubic(src: Float32Array, inH: number, inW: number, dim: number, outH: number, outW: number): Float32Array {
  if (src.length !== inH * inW * dim) throw new Error(`resizeBicubic: ${src.length} values, expected ${inH}×${inW}×${dim}`);
  const tx = axisTaps(inW, outW);
  const ty = axisTaps(inH, outH);
  const wide = new Float64Array(inH * outW * dim); // [inH, outW, D]
  for (let y = 0; y < inH; y++) {
    for (let ox = 0; ox < outW; ox++) {
      const out = (y * outW + ox) * dim;
      for (let k = 0; k < 4; k++) {
        const w = tx.weight[ox * 4 + k]!;
        const from = (y * inW + tx.index[ox * 4 + k]!) * dim;
        for (let c = 0; c < dim; c++) wide[out + c] += w * src[from + c]!;
      }
    }
  }
  const result = new Float32Array(outH * outW * dim); // [outH, outW, D]
  const acc = new Float64Array(dim);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      acc.fill(0);
      for (let k = 0; k < 4; k++) {
        const w = ty.weight[oy * 4 + k]!;
        const from = (ty.index[oy * 4 + k]! * outW + ox) * dim;
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
  pos: Float32Array, srcPrefix: number, gs: number, prefix: number, g: number, dim: number,
): Float32Array {
  if (srcPrefix === prefix && gs === g) return pos;
  const patches = pos.subarray(srcPrefix * dim);
  const grid = gs === g ? patches : resizeBicubic(patches, gs, gs, dim, g, g);
  const out = new Float32Array((prefix + g * g) * dim); // [prefix + g², D]
  if (prefix === 1 && srcPrefix === 1) out.set(pos.subarray(0, dim));
  out.set(grid, prefix * dim);
  return out;
}
