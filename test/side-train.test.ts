// The heart of the method on a toy problem: clips whose classes differ ONLY in time order
// (a feature ramp running forwards or backwards over the frames, so every class has the same
// per-frame distribution). LoSA's temporal mixer separates them; a linear probe on features
// averaged over frames cannot. Also the backend choice. Runs on the tfjs `wasm` backend
// (the one training uses here; the cpu backend is ~5× slower at this).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  AdamW, computeGradients, createSideNetwork, currentTfBackend, defaultSideConfig, initTf, type SideConfig,
} from '../src/side/index.js';
import { createRng } from '../src/random.js';

const T = 8, L = 2, P = 2, D = 8;

beforeAll(async () => {
  const { backend } = await initTf('wasm');
  expect(backend).toBe('wasm');
});

/** n clips [n, T, L, P, D]: frame t carries ±ramp(t)·u plus noise; class 0 ramps up, class 1 down. */
function timeOrderData(n: number, seed: string): { data: Float32Array; labels: number[] } {
  const u = (() => {
    const r = createRng('direction');
    return Array.from({ length: D }, () => r.normal());
  })();
  const rng = createRng(seed);
  const data = new Float32Array(n * T * L * P * D);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = rng.int(2);
    labels.push(label);
    for (let t = 0; t < T; t++) {
      const ramp = ((2 * t - (T - 1)) / (T - 1)) * (label === 0 ? 1 : -1);
      for (let l = 0; l < L; l++) {
        for (let p = 0; p < P; p++) {
          for (let d = 0; d < D; d++) data[(((i * T + t) * L + l) * P + p) * D + d] = ramp * u[d]! + 0.5 * rng.normal();
        }
      }
    }
  }
  return { data, labels };
}

function trainAndScore(config: SideConfig): number {
  const steps = 40, batch = 32, per = T * L * P * D;
  const train = timeOrderData(steps * batch, 'train');
  const val = timeOrderData(200, 'val');
  const net = createSideNetwork(config, 7);
  const opt = new AdamW({ weightDecay: 0 });
  for (let s = 0; s < steps; s++) {
    const y = tf.tensor1d(train.labels.slice(s * batch, (s + 1) * batch), 'int32');
    const r = computeGradients(net, train.data.subarray(s * batch * per, (s + 1) * batch * per), y, 0);
    opt.apply(net.variables, r.grads, 1e-2, net.decayMask);
    tf.dispose([y, ...r.grads.values()]);
  }
  const logits = net.apply(val.data);
  const predicted = tf.argMax(logits, 1);
  const hits = (predicted.dataSync() as Int32Array).reduce((a, p, i) => a + (p === val.labels[i] ? 1 : 0), 0);
  tf.dispose([logits, predicted]);
  opt.dispose();
  net.dispose();
  return hits / val.labels.length;
}

describe('time order', () => {
  const base = { numFrames: T, numLayers: L, tokens: P, width: D, numClasses: 2 };
  it('LoSA separates forwards from backwards; the linear probe stays at chance', () => {
    const losa = trainAndScore(defaultSideConfig(base, { rank: 4, temporalRank: 4, spatialRank: 2 }));
    const probe = trainAndScore(defaultSideConfig(base, { kind: 'linear' }));
    expect(losa).toBeGreaterThanOrEqual(0.95);
    expect(probe).toBeLessThanOrEqual(0.65);
  });

  it('is repeatable: the same seed gives the same trained network', () => {
    const config = defaultSideConfig(base, { rank: 2 });
    const run = (): number[] => {
      const net = createSideNetwork(config, 3);
      const opt = new AdamW({ weightDecay: 0.01 });
      const { data, labels } = timeOrderData(16, 'repeat');
      const y = tf.tensor1d(labels, 'int32');
      for (let s = 0; s < 3; s++) {
        const r = computeGradients(net, data, y, 0.1);
        opt.apply(net.variables, r.grads, 1e-2, net.decayMask);
        tf.dispose([...r.grads.values()]);
      }
      const out = Array.from(net.apply(data).dataSync());
      tf.dispose(y);
      opt.dispose();
      net.dispose();
      return out;
    };
    expect(run()).toEqual(run());
  });

  it('leaks no tensors on wasm either (its optimiser writes weights back differently)', () => {
    const net = createSideNetwork(defaultSideConfig(base), 1);
    const opt = new AdamW({ weightDecay: 0.05 });
    const { data, labels } = timeOrderData(4, 'leak');
    const y = tf.tensor1d(labels, 'int32');
    const step = (): void => {
      const r = computeGradients(net, data, y, 0.1);
      opt.apply(net.variables, r.grads, 1e-3, net.decayMask);
      tf.dispose([...r.grads.values()]);
    };
    step();
    const before = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(y);
    opt.dispose();
    net.dispose();
  });
});

describe('backend choice', () => {
  const saved = process.env['LOSA_TF_BACKEND'];
  afterAll(async () => {
    if (saved === undefined) delete process.env['LOSA_TF_BACKEND'];
    else process.env['LOSA_TF_BACKEND'] = saved;
    await initTf('wasm');
  });

  it('auto falls back past the absent native backend; LOSA_TF_BACKEND overrides auto; names are checked', async () => {
    delete process.env['LOSA_TF_BACKEND'];
    // @tensorflow/tfjs-node is not installed here, so auto lands on wasm.
    expect((await initTf('auto')).backend).toBe('wasm');
    process.env['LOSA_TF_BACKEND'] = 'cpu';
    expect((await initTf('auto')).backend).toBe('cpu');
    expect(currentTfBackend()).toBe('cpu');
    expect((await initTf('wasm')).backend).toBe('wasm');
    process.env['LOSA_TF_BACKEND'] = 'gpu';
    await expect(initTf('auto')).rejects.toThrow(/LOSA_TF_BACKEND: unknown TensorFlow\.js backend "gpu"/);
    await expect(initTf('tensorflow')).rejects.toThrow(/not available/);
  });
});
