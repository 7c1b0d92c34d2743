// Optimiser maths and the training-step plumbing, each against a plain-JavaScript computation:
// AdamW (decoupled decay, bias correction, state round trip), the learning-rate schedule,
// label-smoothed cross entropy, gradient accumulation, weights in and out, and no tensor
// leaks across a whole step. tfjs `cpu` backend.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  AdamW, GradientAccumulator, computeGradients, createSideNetwork, defaultSideConfig, getSideWeights, initTf,
  learningRateAt, setSideWeights, smoothedCrossEntropy,
} from '../src/side/index.js';
import { createRng } from '../src/random.js';
import { LosaError } from '../src/errors.js';

beforeAll(async () => {
  await initTf('cpu');
});

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!, a = actual[i]!;
    if (Math.abs(a - e) > tol * Math.max(1, Math.abs(e))) throw new Error(`[${i}] ${a} vs ${e}`);
  }
}

/** torch.optim.AdamW's update, written out on plain arrays. */
function adamwReference(
  p: number[], g: number[][], lrs: number[], decay: boolean, o: { b1: number; b2: number; eps: number; wd: number },
): number[] {
  const m = p.map(() => 0), v = p.map(() => 0);
  const out = p.slice();
  g.forEach((grad, s) => {
    const t = s + 1, lr = lrs[s]!;
    for (let i = 0; i < out.length; i++) {
      if (decay) out[i] = out[i]! * (1 - lr * o.wd);
      m[i] = o.b1 * m[i]! + (1 - o.b1) * grad[i]!;
      v[i] = o.b2 * v[i]! + (1 - o.b2) * grad[i]! ** 2;
      const mhat = m[i]! / (1 - o.b1 ** t);
      const vhat = v[i]! / (1 - o.b2 ** t);
      out[i] = out[i]! - (lr * mhat) / (Math.sqrt(vhat) + o.eps);
    }
  });
  return out;
}

describe('AdamW', () => {
  const opts = { b1: 0.9, b2: 0.98, eps: 1e-6, wd: 0.05 };
  const make = (): Map<string, tf.Variable> => new Map<string, tf.Variable>([
    ['a.weight', tf.variable(tf.tensor2d([[0.5, -1.0, 2.0], [0.25, 0.0, -0.75]]))],
    ['a.bias', tf.variable(tf.tensor1d([0.1, -0.2]))],
  ]);
  const gradSteps = [
    { w: [[0.1, -0.2, 0.3], [0.0, 0.5, -0.05]], b: [1.0, -0.001] },
    { w: [[-0.3, 0.2, 0.1], [0.2, -0.5, 0.05]], b: [-0.5, 0.002] },
    { w: [[0.05, 0.05, -0.4], [0.01, 0.3, 0.2]], b: [0.25, 0.0] },
  ];
  const mask = (name: string): boolean => name.endsWith('.weight');

  it('matches a plain computation over three steps, decaying weights but not biases', () => {
    const vars = make();
    const opt = new AdamW({ beta1: opts.b1, beta2: opts.b2, epsilon: opts.eps, weightDecay: opts.wd });
    const lrs = [0.01, 0.02, 0.005];
    gradSteps.forEach((g, s) => {
      const grads = new Map<string, tf.Tensor>([['a.weight', tf.tensor2d(g.w)], ['a.bias', tf.tensor1d(g.b)]]);
      opt.apply(vars, grads, lrs[s]!, mask);
      tf.dispose([...grads.values()]);
    });
    expect(opt.step).toBe(3);
    close(vars.get('a.weight')!.dataSync(), adamwReference([0.5, -1, 2, 0.25, 0, -0.75], gradSteps.map((g) => g.w.flat()), lrs, true, opts));
    close(vars.get('a.bias')!.dataSync(), adamwReference([0.1, -0.2], gradSteps.map((g) => g.b), lrs, false, opts));
    expect(vars.get('a.weight')!.shape).toEqual([2, 3]);
    opt.dispose();
    tf.dispose([...vars.values()]);
  });

  it('resumes exactly from getState / setState', () => {
    const run = (split: boolean): number[] => {
      const vars = make();
      let opt = new AdamW({ weightDecay: 0.1 });
      gradSteps.forEach((g, s) => {
        if (split && s === 2) {
          const state = opt.getState();
          expect(state.step).toBe(2);
          expect(state.tensors.map((t) => t.name)).toEqual(['a.weight.exp_avg', 'a.weight.exp_avg_sq', 'a.bias.exp_avg', 'a.bias.exp_avg_sq']);
          opt.dispose();
          opt = new AdamW({ weightDecay: 0.1 });
          opt.setState(structuredClone(state));
        }
        const grads = new Map<string, tf.Tensor>([['a.weight', tf.tensor2d(g.w)], ['a.bias', tf.tensor1d(g.b)]]);
        opt.apply(vars, grads, 0.01, mask);
        tf.dispose([...grads.values()]);
      });
      const out = [...vars.values()].flatMap((v) => Array.from(v.dataSync()));
      opt.dispose();
      tf.dispose([...vars.values()]);
      return out;
    };
    expect(run(true)).toEqual(run(false));
  });

  it('holds a few parameter-sized vectors at once during an update, not one per operation', async () => {
    // The high-water mark is what the wasm heap keeps: one tidy around the whole update held
    // all of its ~20 intermediate vectors at the end.
    const n = 50_000;
    const vars = new Map<string, tf.Variable>([['a.weight', tf.variable(tf.zeros([n]))], ['a.bias', tf.variable(tf.zeros([n]))]]);
    const grads = new Map<string, tf.Tensor>([['a.weight', tf.fill([n], 0.5)], ['a.bias', tf.fill([n], -0.25)]]);
    const opt = new AdamW({ weightDecay: 0.05 });
    const vectorBytes = 2 * n * 4; // one float32 vector of all the parameters
    const extra = async (): Promise<number> => {
      const before = tf.memory().numBytes;
      const info = await tf.profile(() => opt.apply(vars, grads, 0.01, mask));
      return (info.peakBytes - before) / vectorBytes;
    };
    expect(await extra()).toBeLessThanOrEqual(11); // the first update also makes m, v and the decay mask (measured: 10; one tidy: 23)
    expect(await extra()).toBeLessThanOrEqual(8); // measured: 7
    opt.dispose();
    tf.dispose([...grads.values(), ...vars.values()]);
  });

  it('refuses mismatched state and gradients with one-line errors naming the tensor', () => {
    const vars = make();
    const opt = new AdamW({ weightDecay: 0 });
    opt.setState({ step: 1, tensors: [{ name: 'a.weight.exp_avg', shape: [3, 2], data: new Float32Array(6) }] });
    const grads = new Map<string, tf.Tensor>([['a.weight', tf.zeros([2, 3])], ['a.bias', tf.zeros([2])]]);
    expect(() => opt.apply(vars, grads, 0.1, mask)).toThrow(/a\.weight\.exp_avg has shape \[3, 2\], expected \[2, 3\]/);
    const fresh = new AdamW({ weightDecay: 0 });
    const wrong = new Map<string, tf.Tensor>([['a.weight', tf.zeros([3])], ['a.bias', tf.zeros([2])]]);
    expect(() => fresh.apply(vars, wrong, 0.1, mask)).toThrow(LosaError);
    expect(() => new AdamW({ weightDecay: -1 })).toThrow(/weightDecay/);
    tf.dispose([...grads.values(), ...wrong.values(), ...vars.values()]);
    opt.dispose();
    fresh.dispose();
  });
});

describe('learning-rate schedule', () => {
  const s = { baseLr: 1e-3, warmupSteps: 10, totalSteps: 110, minLr: 1e-5 };
  it('warms up linearly from baseLr/W, then follows a half cosine down to minLr', () => {
    expect(learningRateAt(0, s)).toBeCloseTo(1e-4, 12);
    expect(learningRateAt(4, s)).toBeCloseTo(5e-4, 12);
    expect(learningRateAt(9, s)).toBeCloseTo(1e-3, 12);
    expect(learningRateAt(10, s)).toBeCloseTo(1e-3, 12);
    expect(learningRateAt(60, s)).toBeCloseTo(1e-5 + (1e-3 - 1e-5) * 0.5, 12);
    expect(learningRateAt(35, s)).toBeCloseTo(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(learningRateAt(110, s)).toBeCloseTo(1e-5, 12);
    expect(learningRateAt(500, s)).toBeCloseTo(1e-5, 12);
    for (let i = 10; i < 110; i++) expect(learningRateAt(i + 1, s)).toBeLessThanOrEqual(learningRateAt(i, s));
  });
  it('handles no warmup and minLr defaulting to 0', () => {
    expect(learningRateAt(0, { baseLr: 2, warmupSteps: 0, totalSteps: 4 })).toBe(2);
    expect(learningRateAt(2, { baseLr: 2, warmupSteps: 0, totalSteps: 4 })).toBeCloseTo(1, 12);
    expect(learningRateAt(4, { baseLr: 2, warmupSteps: 0, totalSteps: 4 })).toBeCloseTo(0, 12);
    expect(() => learningRateAt(-1, s)).toThrow(/step/);
    expect(() => learningRateAt(0, { ...s, minLr: 1 })).toThrow(/minLr/);
  });
});

describe('smoothed cross entropy', () => {
  it('matches a plain computation, with and without smoothing', () => {
    const logits = [[2.0, -1.0, 0.5, 0.0], [-3.0, 4.0, 1.0, 1.0], [0.0, 0.0, 0.0, 10.0]];
    const labels = [0, 2, 3];
    for (const eps of [0, 0.1, 0.3]) {
      let expected = 0;
      logits.forEach((row, b) => {
        const lse = Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
        row.forEach((v, k) => { expected -= ((k === labels[b] ? 1 - eps : 0) + eps / 4) * (v - lse); });
      });
      expected /= 3;
      const x = tf.tensor2d(logits), y = tf.tensor1d(labels, 'int32');
      const loss = smoothedCrossEntropy(x, y, eps);
      expect(loss.dataSync()[0]).toBeCloseTo(expected, 5);
      tf.dispose([x, y, loss]);
    }
    expect(() => smoothedCrossEntropy(tf.zeros([2, 3]), tf.tensor1d([0, 1], 'int32'), 1)).toThrow(/smoothing/);
  });
});

describe('training step plumbing', () => {
  const config = defaultSideConfig({ numFrames: 4, numLayers: 2, tokens: 5, width: 8, numClasses: 3 }, { rank: 4 });
  const rng = createRng('plumbing');
  const data = Float32Array.from({ length: 6 * 4 * 2 * 5 * 8 }, () => rng.normal());

  it('accumulates weighted micro-batch gradients into the full-batch gradient', () => {
    const net = createSideNetwork(config, 1);
    const labels = [0, 1, 2, 2, 1, 0];
    const y = tf.tensor1d(labels, 'int32');
    const full = computeGradients(net, data, y, 0.1);
    const acc = new GradientAccumulator();
    const per = 4 * 2 * 5 * 8;
    let correct = 0, loss = 0;
    for (const [from, to] of [[0, 2], [2, 6]] as const) {
      const part = tf.tensor1d(labels.slice(from, to), 'int32');
      const r = computeGradients(net, data.subarray(from * per, to * per), part, 0.1);
      acc.add(r.grads, (to - from) / 6);
      correct += r.correct;
      loss += (r.loss * (to - from)) / 6;
      tf.dispose([part, ...r.grads.values()]);
    }
    const summed = acc.take();
    expect(loss).toBeCloseTo(full.loss, 5);
    expect(correct).toBe(full.correct);
    for (const [name, g] of full.grads) close(summed.get(name)!.dataSync(), g.dataSync(), 1e-4);
    tf.dispose([y, ...full.grads.values(), ...summed.values()]);
    acc.dispose();
    net.dispose();
  });

  it('leaks no tensors across gradients, accumulation and an update', () => {
    const net = createSideNetwork(config, 2);
    const opt = new AdamW({ weightDecay: 0.05 });
    const acc = new GradientAccumulator();
    const y = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
    const step = (): void => {
      for (let k = 0; k < 2; k++) {
        const r = computeGradients(net, data, y, 0.1);
        acc.add(r.grads, 0.5);
        tf.dispose([...r.grads.values()]);
      }
      const g = acc.take();
      opt.apply(net.variables, g, 1e-3, net.decayMask);
      tf.dispose([...g.values()]);
    };
    step(); // the optimiser's state (m, v, decay mask) is created on the first step
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    const x = tf.tensor(data, [6, 4, 2, 5, 8]);
    computeGradients(net, x, y, 0).grads.forEach((g) => g.dispose());
    net.apply(x).dispose();
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    y.dispose();
    acc.dispose();
    opt.dispose();
    net.dispose();
  });

  it('round-trips weights and names the tensor at fault', () => {
    const a = createSideNetwork(config, 3), b = createSideNetwork(config, 4);
    const weights = getSideWeights(a);
    expect(weights[0]!.name).toBe('blocks.0.norm.weight');
    setSideWeights(b, new Map(weights.map((t) => [t.name, t])));
    const la = a.apply(data), lb = b.apply(data);
    expect(Array.from(lb.dataSync())).toEqual(Array.from(la.dataSync()));
    const bad = new Map(weights.map((t) => [t.name, t]));
    bad.set('head.weight', { name: 'head.weight', shape: [2, 8], data: new Float32Array(16) });
    expect(() => setSideWeights(b, bad)).toThrow(/head\.weight has shape \[2, 8\], expected \[3, 8\]/);
    bad.delete('head.weight');
    expect(() => setSideWeights(b, bad)).toThrow(/lack tensor head\.weight/);
    const probe = createSideNetwork({ ...config, kind: 'linear' }, 1);
    expect(() => setSideWeights(probe, new Map(weights.map((t) => [t.name, t])))).toThrow(/unexpected tensor blocks\.0\.norm\.weight/);
    tf.dispose([la, lb]);
    a.dispose();
    b.dispose();
    probe.dispose();
  });
});
