// The side network's host kernels (src/side/host.ts, host-block.ts, kernels.wat): the SIMD
// products against plain loops, and the whole network against the tfjs kernels, which
// side-network.test.ts checks against a float64 reference and finite differences (it runs both
// kernel sets through those checks too). Also: gradients accumulated as values, parameters
// reloaded after an update, and no tensor left behind.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  AdamW, GradientAccumulator, accumulateGradient, computeGradients, createSideNetwork, defaultSideConfig, getSideWeights,
  initTf, setSideKernels, setSideWeights, usesHostKernels, type SideConfig, type SideNetwork,
} from '../src/side/index.js';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { kernelsWith } from '../src/side/kernels.js';
import { createRng } from '../src/random.js';
import { requireBuild } from './cli-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

beforeAll(async () => {
  requireBuild(); // the kernels' wasm file, and dist/ for the child process
  await initTf('wasm');
});
afterEach(() => setSideKernels('auto'));

function random(n: number, seed: string): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 1e-12, worst = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
  return worst;
}

describe('kernels.wat', () => {
  // Sizes around the four-row blocks and the four-lane vectors: remainders of both.
  const cases = [[1, 1, 1], [3, 5, 7], [4, 4, 8], [5, 2, 9], [8, 3, 16], [9, 7, 13], [16, 40, 384]] as const;

  it.each(cases)('dotRows matches plain loops (J = %i, n = %i)', (J, _, n) => {
    const os = 3; // an output stride, as the weight gradients use
    const { k, out, W, x } = kernelsWith((alloc, kernels) => ({ k: kernels, out: alloc(J * os), W: alloc(J * n + 1), x: alloc(n + 2) }));
    W.set(random(W.length, `W${J}`)); x.set(random(x.length, `x${n}`)); out.set(random(out.length, 'o'));
    const want = Float64Array.from(out);
    for (let j = 0; j < J; j++) for (let c = 0; c < n; c++) want[j * os]! += W[1 + j * n + c]! * x[2 + c]!;
    k.dotRows(out.byteOffset, 4 * os, W.byteOffset + 4, J, x.byteOffset + 8, n);
    expect(maxRelDiff(out, want)).toBeLessThan(1e-6);
  });

  it.each(cases)('mixRows matches plain loops, W transposed (J = %i, I = %i, n = %i)', (J, I, n) => {
    const { k, out, W, x } = kernelsWith((alloc, kernels) => ({ k: kernels, out: alloc(J * n + 1), W: alloc(J * I), x: alloc(I * n) }));
    W.set(random(W.length, `W${J}${I}`)); x.set(random(x.length, `x${I}${n}`)); out.set(random(out.length, 'o'));
    const want = Float64Array.from(out);
    // W read as [J, I] with strides (1, J): the transpose of a stored [I, J].
    for (let j = 0; j < J; j++) for (let i = 0; i < I; i++) for (let q = 0; q < n; q++) want[1 + j * n + q]! += W[j + i * J]! * x[i * n + q]!;
    k.mixRows(out.byteOffset + 4, W.byteOffset, 4, 4 * J, J, I, x.byteOffset, n);
    expect(maxRelDiff(out, want)).toBeLessThan(1e-6);
  });

  it.each([4, 5, 7, 8, 13])('activate matches GELU (tanh form) and QuickGELU and their slopes in float64 (n = %i)', (n) => {
    const { k, h, a, s } = kernelsWith((alloc, kernels) => ({ k: kernels, h: alloc(n), a: alloc(n + 1), s: alloc(n + 1) }));
    // Moderate values, and far tails where e^(−u) over- or underflows float32.
    h.set(Array.from({ length: n }, (_, i) => (i % 5 === 4 ? (i % 2 ? 95 : -95) : 3 * Math.sin(1.7 * i))));
    for (const [c1, c3, name] of [[1.5957691216057308, 0.07135481627159, 'gelu'], [1.702, 0, 'quick-gelu']] as const) {
      a.fill(7); s.fill(7);
      k.activate(h.byteOffset, a.byteOffset + 4, s.byteOffset + 4, n, c1, c3); // written from index 1
      expect(a[0], 'nothing before').toBe(7);
      for (let i = 0; i < n; i++) {
        const x = h[i]!;
        const gelu = name === 'gelu' ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))) : x / (1 + Math.exp(-1.702 * x));
        const sig = 1 / (1 + Math.exp(-x * (c1 + c3 * x * x)));
        const slope = sig + x * sig * (1 - sig) * (c1 + 3 * c3 * x * x);
        expect(Math.abs(a[1 + i]! - gelu), `${name} act(${x})`).toBeLessThan(1e-6 * Math.max(1, Math.abs(gelu)));
        expect(Math.abs(s[1 + i]! - slope), `${name} act'(${x})`).toBeLessThan(1e-6 * Math.max(1, Math.abs(slope)));
      }
    }
  });
});

/** Random weights everywhere (the zero up-projection too), so no gradient is trivially zero. */
function randomise(net: SideNetwork, seed: string): void {
  const rng = createRng(seed);
  setSideWeights(net, new Map(getSideWeights(net).map((t) => [t.name, {
    shape: t.shape, data: Float32Array.from(t.data, () => (t.name.endsWith('norm.weight') ? 1 : 0) + 0.4 * rng.normal()),
  }])));
}

function runBoth(config: SideConfig, B: number, labels: number[]) {
  const net = createSideNetwork(config, 5);
  randomise(net, 'w');
  const per = config.numFrames * config.numLayers * config.tokens * config.width;
  const data = random(B * per, 'x');
  const out: Record<string, { logits: Float32Array; loss: number; hits: number[]; grads: Map<string, Float32Array> }> = {};
  for (const kernels of ['tfjs', 'host'] as const) {
    setSideKernels(kernels);
    const logits = net.apply(data);
    const y = tf.tensor1d(labels, 'int32');
    // Clips split over two arrays, as the training loop passes them.
    const r = computeGradients(net, [data.subarray(0, per), data.subarray(per)], y, 0.1);
    out[kernels] = {
      logits: logits.dataSync() as Float32Array, loss: r.loss, hits: [r.correct, r.correctTop5],
      grads: new Map([...r.grads].map(([k, g]) => [k, g.dataSync() as Float32Array])),
    };
    tf.dispose([logits, y, ...r.grads.values()]);
  }
  net.dispose();
  return out;
}

describe('host kernels against tfjs kernels', () => {
  const SHAPE = { numFrames: 4, numLayers: 3, tokens: 5, width: 24, numClasses: 7 };
  it.each([
    ['defaults', {}], ['P = 1', { tokens: 1 }], ['T = 1', { numFrames: 1 }], ['odd ranks and width', { width: 13, rank: 3, temporalRank: 5, spatialRank: 2 }],
    ['linear probe', { kind: 'linear' }], ['quick-gelu', { activation: 'quick-gelu' }],
  ] as const)('same logits, loss, hits and gradients (%s)', (_, over) => {
    const { kind, activation, rank, temporalRank, spatialRank, ...shape } = over as Partial<SideConfig>;
    const config = defaultSideConfig({ ...SHAPE, ...shape }, { kind, activation, rank, temporalRank, spatialRank });
    const r = runBoth(config, 3, [0, 6, 2]);
    expect(maxRelDiff(r.host!.logits, r.tfjs!.logits)).toBeLessThan(1e-5);
    expect(Math.abs(r.host!.loss - r.tfjs!.loss)).toBeLessThan(1e-5);
    expect(r.host!.hits).toEqual(r.tfjs!.hits);
    expect([...r.host!.grads.keys()].sort()).toEqual([...r.tfjs!.grads.keys()].sort());
    for (const [name, g] of r.tfjs!.grads) expect(maxRelDiff(r.host!.grads.get(name)!, g), name).toBeLessThan(1e-4);
  });

  it('is the default on the wasm and cpu backends', () => {
    expect(usesHostKernels()).toBe(true);
    setSideKernels('tfjs');
    expect(usesHostKernels()).toBe(false);
    expect(() => setSideKernels('gpu' as never)).toThrow(/Expected `side kernels` to be "auto", "host" or "tfjs", got/);
  });

  it('reads LOSA_SIDE_KERNELS, and names it when it is wrong', () => {
    const run = (value: string) => spawnSync(process.execPath, ['--input-type=module', '-e', `
const side = await import(${JSON.stringify(pathToFileURL(path.join(root, 'dist', 'side', 'index.js')).href)});
await side.initTf('wasm');
try { console.log(side.usesHostKernels()); } catch (e) { console.log(e.message); }`], { cwd: root, encoding: 'utf8', env: { ...process.env, LOSA_SIDE_KERNELS: value } });
    expect(run('tfjs').stdout.trim()).toBe('false');
    expect(run('host').stdout.trim()).toBe('true');
    expect(run('gpu').stdout.trim()).toBe('Expected `LOSA_SIDE_KERNELS` to be "auto", "host" or "tfjs", got "gpu"');
  });

  it('rejects a label outside the classes and bad smoothing in one line', () => {
    const config = defaultSideConfig(SHAPE);
    const net = createSideNetwork(config, 1);
    const data = random(SHAPE.numFrames * SHAPE.numLayers * SHAPE.tokens * SHAPE.width, 'bad');
    const acc = new GradientAccumulator();
    expect(() => accumulateGradient(net, data, [7], 0.1, acc, 1)).toThrow(/^label 7 is not a class index below 7$/);
    expect(() => accumulateGradient(net, data, [1], 1, acc, 1)).toThrow(/label smoothing/);
    acc.dispose();
    net.dispose();
  });
});

describe('host kernels in training', () => {
  const config = defaultSideConfig({ numFrames: 3, numLayers: 2, tokens: 2, width: 16, numClasses: 4 });
  const per = 3 * 2 * 2 * 16;

  it('accumulate as values what computeGradients gives as tensors, and leave no tensor behind', () => {
    const net = createSideNetwork(config, 2);
    randomise(net, 'acc');
    const data = random(4 * per, 'acc-x');
    const labels = [0, 3, 1, 2];
    const y = tf.tensor1d(labels, 'int32');
    const full = computeGradients(net, data, y, 0.1); // the mean over all four clips
    const before = tf.memory().numTensors;
    const acc = new GradientAccumulator();
    let loss = 0;
    for (const [from, to] of [[0, 1], [1, 4]]) {
      const r = accumulateGradient(net, data.subarray(from * per, to * per), labels.slice(from, to), 0.1, acc, to - from);
      loss += r.loss * (to - from) / 4;
    }
    const summed = acc.take();
    expect(loss).toBeCloseTo(full.loss, 5);
    for (const [name, g] of full.grads) {
      const mean = tf.div(summed.get(name)!, 4);
      expect(maxRelDiff(mean.dataSync(), g.dataSync()), name).toBeLessThan(1e-5);
      mean.dispose();
    }
    tf.dispose([...summed.values()]);
    acc.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([y, ...full.grads.values()]);
    net.dispose();
  });

  it('read the weights again after an update', () => {
    const net = createSideNetwork(config, 3);
    const data = random(2 * per, 'upd');
    const labels = [1, 2];
    const gradsNow = (): Map<string, Float32Array> => {
      const y = tf.tensor1d(labels, 'int32');
      const r = computeGradients(net, data, y, 0);
      const out = new Map([...r.grads].map(([k, g]) => [k, g.dataSync() as Float32Array]));
      tf.dispose([y, ...r.grads.values()]);
      return out;
    };
    const opt = new AdamW({ weightDecay: 0 });
    const acc = new GradientAccumulator();
    accumulateGradient(net, data, labels, 0, acc, 1);
    const step = acc.take();
    opt.apply(net.variables, step, 0.05, () => true);
    tf.dispose([...step.values()]);
    const host = gradsNow();
    setSideKernels('tfjs');
    const reference = gradsNow();
    for (const [name, g] of reference) expect(maxRelDiff(host.get(name)!, g), name).toBeLessThan(1e-4);
    opt.dispose();
    net.dispose();
  });
});
