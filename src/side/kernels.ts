// The side network's SIMD kernels (kernels.wat: products and activations, assembled into
// dist/side/kernels.wasm by `npm run build`) and the memory they work in. Each network shape gets its own instance and
// memory, sized once: growing a WebAssembly memory would detach every view into it.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LosaError } from '../errors.js';

/** The same path from src/side/ (tests) and from dist/side/ (the build). */
const WASM_FILE = fileURLToPath(new URL('../../dist/side/kernels.wasm', import.meta.url));

/** Addresses in bytes into `memory`, counts in float32 values (kernels.wat documents both). */
export interface Kernels {
  memory: WebAssembly.Memory;
  dotRows(out: number, outStride: number, W: number, J: number, x: number, n: number): void;
  mixRows(out: number, W: number, wj: number, wi: number, J: number, I: number, x: number, n: number): void;
  /** n ≥ 4 */
  activate(h: number, a: number, s: number, n: number, c1: number, c3: number): void;
}

/** Hands out float32 views, 16-byte aligned, one after another. */
export type Alloc = (floats: number) => Float32Array;

let compiled: WebAssembly.Module | undefined;

function kernelModule(): WebAssembly.Module {
  if (compiled === undefined) {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(WASM_FILE);
    } catch {
      throw new LosaError(`${WASM_FILE}: the side network's kernels are not built (run npm run build)`);
    }
    compiled = new WebAssembly.Module(new Uint8Array(bytes));
  }
  return compiled;
}

/**
 * Kernels with a memory holding everything `layout` allocates: layout runs twice, first to
 * count (its views are then empty), then to place the views it returns in the memory.
 */
export function kernelsWith<T>(layout: (alloc: Alloc, kernels: Kernels) => T): T {
  let floats = 0;
  const count: Alloc = (n) => {
    floats += Math.ceil(n / 4) * 4;
    return new Float32Array(0);
  };
  const dummy = { memory: undefined as unknown as WebAssembly.Memory, dotRows: () => {}, mixRows: () => {}, activate: () => {} };
  layout(count, dummy);
  const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil((4 * floats) / 65536)) });
  const exports = new WebAssembly.Instance(kernelModule(), { env: { memory } }).exports as unknown as Omit<Kernels, 'memory'>;
  const kernels: Kernels = { memory, dotRows: exports.dotRows, mixRows: exports.mixRows, activate: exports.activate };
  let next = 0;
  const alloc: Alloc = (n) => {
    const view = new Float32Array(memory.buffer, 4 * next, n);
    next += Math.ceil(n / 4) * 4;
    return view;
  };
  return layout(alloc, kernels);
}
