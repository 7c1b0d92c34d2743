// The side network against an independent float64 implementation written plainly below:
// shapes, parameter count, the linear-probe equivalence at initialisation, forward values,
// and every gradient against central finite differences, for both sets of kernels (tfjs ops and
// the host kernels, src/side/host.ts). Runs on the tfjs `cpu` backend; one test repeats the check
// on `wasm`.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  computeGradients, createSideNetwork, defaultSideConfig, getSideWeights, initTf, setSideKernels, setSideWeights, sideParamCount,
  type SideConfig, type SideNetwork,
} from '../src/side/index.js';
import { createRng } from '../src/random.js';
import { tf as sideTf } from '../src/side/tf.js';
import { LosaError } from '../src/errors.js';

beforeAll(async () => {
  await initTf('cpu');
});
afterEach(() => setSideKernels('auto'));

// ---------- the reference: DESIGN.md's block, written with loops, float64 ----------

type Params = Map<string, Float64Array>;

function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

function quickGelu(x: number): number {
  return x / (1 + Math.exp(-1.702 * x));
}

function layerNormRef(v: Float64Array, w: Float64Array, b: Float64Array, eps: number): Float64Array {
  const n = v.length;
  let mean = 0;
  for (const x of v) mean += x;
  mean /= n;
  let variance = 0;
  for (const x of v) variance += (x - mean) ** 2;
  variance /= n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = ((v[i]! - mean) / Math.sqrt(variance + eps)) * w[i]! + b[i]!;
  return out;
}

/** Low-rank MLP fc2(act(fc1(v))) on a vector v [in] with PyTorch-layout weights. */
function mlpRef(v: Float64Array, p: Params, prefix: string, act: (x: number) => number): Float64Array {
  const w1 = p.get(`${prefix}.fc1.weight`)!, b1 = p.get(`${prefix}.fc1.bias`)!;
  const w2 = p.get(`${prefix}.fc2.weight`)!, b2 = p.get(`${prefix}.fc2.bias`)!;
  const hidden = b1.length, n = v.length;
  const h = new Float64Array(hidden);
  for (let i = 0; i < hidden; i++) {
    let acc = b1[i]!;
    for (let j = 0; j < n; j++) acc += w1[i * n + j]! * v[j]!;
    h[i] = act(acc);
  }
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let acc = b2[j]!;
    for (let i = 0; i < hidden; i++) acc += w2[j * hidden + i]! * h[i]!;
    out[j] = acc;
  }
  return out;
}

/** Logits [B·K] of features [B, T, L, P, D] (row-major) under DESIGN.md's LoSA or the probe. */
function referenceLogits(features: ArrayLike<number>, batch: number, c: SideConfig, p: Params): Float64Array {
  const { numFrames: T, numLayers: L, tokens: P, width: D, numClasses: K } = c;
  const at = (b: number, t: number, l: number, q: number, d: number): number => features[(((b * T + t) * L + l) * P + q) * D + d]!;
  const act = c.activation === 'quick-gelu' ? quickGelu : geluTanh;
  const logits = new Float64Array(batch * K);
  for (let b = 0; b < batch; b++) {
    const s = Array.from({ length: T * P }, () => new Float64Array(D)); // s[t·P + q] [D]
    if (c.kind === 'losa') {
      for (let l = 0; l < L; l++) {
        const pre = `blocks.${l}`;
        const z = s.map((row, i) => {
          const t = Math.floor(i / P), q = i % P;
          const v = new Float64Array(D);
          for (let d = 0; d < D; d++) v[d] = at(b, t, l, q, d) + row[d]!;
          return layerNormRef(v, p.get(`${pre}.norm.weight`)!, p.get(`${pre}.norm.bias`)!, c.layerNormEps);
        });
        for (let q = 0; q < P; q++) {
          for (let d = 0; d < D; d++) {
            const v = Float64Array.from({ length: T }, (_, t) => z[t * P + q]![d]!);
            const o = mlpRef(v, p, `${pre}.temporal`, act);
            for (let t = 0; t < T; t++) z[t * P + q]![d]! += o[t]!;
          }
        }
        if (P > 1) {
          for (let t = 0; t < T; t++) {
            for (let d = 0; d < D; d++) {
              const v = Float64Array.from({ length: P }, (_, q) => z[t * P + q]![d]!);
              const o = mlpRef(v, p, `${pre}.spatial`, act);
              for (let q = 0; q < P; q++) z[t * P + q]![d]! += o[q]!;
            }
          }
        }
        for (let i = 0; i < T * P; i++) {
          const delta = mlpRef(z[i]!, p, `${pre}.channel`, act);
          for (let d = 0; d < D; d++) s[i]![d]! += delta[d]!;
        }
      }
    }
    const pooled = new Float64Array(D);
    for (let i = 0; i < T * P; i++) {
      const t = Math.floor(i / P), q = i % P;
      const v = new Float64Array(D);
      for (let d = 0; d < D; d++) v[d] = at(b, t, L - 1, q, d) + s[i]![d]!;
      const y = layerNormRef(v, p.get('norm.weight')!, p.get('norm.bias')!, c.layerNormEps);
      for (let d = 0; d < D; d++) pooled[d]! += y[d]! / (T * P);
    }
    const w = p.get('head.weight')!, hb = p.get('head.bias')!;
    for (let k = 0; k < K; k++) {
      let acc = hb[k]!;
      for (let d = 0; d < D; d++) acc += w[k * D + d]! * pooled[d]!;
      logits[b * K + k] = acc;
    }
  }
  return logits;
}

function referenceLoss(logits: Float64Array, labels: number[], K: number, smoothing: number): number {
  let total = 0;
  for (let b = 0; b < labels.length; b++) {
    const row = logits.subarray(b * K, (b + 1) * K);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
    for (let k = 0; k < K; k++) {
      const target = (k === labels[b] ? 1 - smoothing : 0) + smoothing / K;
      total -= target * (row[k]! - lse);
    }
  }
  return total / labels.length;
}

// ---------- helpers ----------

function randomFeatures(n: number, seed: string): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** Give every weight a random value (the zero channel up-projection too), so no gradient is trivially zero. */
function randomiseWeights(net: SideNetwork, seed: string, scale = 0.4): Params {
  const rng = createRng(seed);
  const map = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const { name, shape, data } of getSideWeights(net)) {
    const isNormWeight = name.endsWith('norm.weight');
    map.set(name, { shape, data: Float32Array.from(data, () => (isNormWeight ? 1 : 0) + scale * rng.normal()) });
  }
  setSideWeights(net, map);
  return new Map([...map].map(([k, v]) => [k, Float64Array.from(v.data)]));
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 1e-12;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
  return worst;
}

const SHAPE = { numFrames: 3, numLayers: 2, tokens: 2, width: 6, numClasses: 3 };
const SMALL = defaultSideConfig(SHAPE, { rank: 2, temporalRank: 2, spatialRank: 2 });

// ---------- tests ----------

describe('side network shapes and parameters', () => {
  it('runs on the one tfjs engine that code importing @tensorflow/tfjs as a module sees', () => {
    // src/side/tf.ts loads tfjs with require() (see there why); a second copy would keep its own
    // variables, backend and memory count, and the leak checks of these tests would miss its tensors.
    expect(sideTf.engine()).toBe(tf.engine());
    const before = tf.memory().numTensors;
    const net = createSideNetwork(SMALL, 1);
    expect(tf.memory().numTensors).toBe(before + net.variables.size);
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives [B, K] logits for both kinds, tensor, Float32Array or per-clip arrays, any P', () => {
    for (const tokens of [1, 5]) {
      for (const kind of ['losa', 'linear'] as const) {
        const config = defaultSideConfig({ numFrames: 4, numLayers: 3, tokens, width: 8, numClasses: 5 }, { kind });
        const net = createSideNetwork(config, 1);
        const perClip = 4 * 3 * tokens * 8;
        const data = randomFeatures(3 * perClip, 'shape');
        const x = tf.tensor(data, [3, 4, 3, tokens, 8]);
        // The batch's clips where they lie: one array of two clips, then one of the third.
        const parts = [data.slice(0, 2 * perClip), data.slice(2 * perClip)];
        const a = net.apply(x), b = net.apply(data), c = net.apply(parts);
        expect(a.shape).toEqual([3, 5]);
        expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
        expect(Array.from(c.dataSync())).toEqual(Array.from(b.dataSync()));
        tf.dispose([x, a, b, c]);
        net.dispose();
      }
    }
  });

  it('counts parameters by the closed form', () => {
    // Written out independently of src/side/config.ts.
    const formula = (T: number, L: number, P: number, D: number, K: number, r: number, rt: number, rs: number): number => {
      const block = (2 * D) + (rt * T + rt + T * rt + T) + (P > 1 ? rs * P + rs + P * rs + P : 0) + (r * D + r + D * r + D);
      return L * block + (2 * D) + (K * D + K);
    };
    for (const [T, L, P, D, K, r, rt, rs] of [[8, 12, 5, 192, 4, 16, 4, 4], [16, 24, 1, 1024, 400, 8, 2, 3], [1, 1, 2, 3, 2, 1, 1, 1]]) {
      const config = defaultSideConfig({ numFrames: T!, numLayers: L!, tokens: P!, width: D!, numClasses: K! }, { rank: r, temporalRank: rt, spatialRank: rs });
      expect(sideParamCount(config)).toBe(formula(T!, L!, P!, D!, K!, r!, rt!, rs!));
      expect(sideParamCount({ ...config, kind: 'linear' })).toBe(2 * D! + K! * D! + K!);
    }
    const net = createSideNetwork(defaultSideConfig({ numFrames: 8, numLayers: 12, tokens: 5, width: 192, numClasses: 4 }), 3);
    expect(net.paramCount()).toBe(formula(8, 12, 5, 192, 4, 16, 4, 4));
    expect(net.paramCount()).toBe(83488);
    net.dispose();
  });

  it('names tensors as PyTorch modules would, with PyTorch layouts', () => {
    const net = createSideNetwork(SMALL, 1);
    const shapes = Object.fromEntries([...net.variables].map(([k, v]) => [k, v.shape]));
    expect(shapes['blocks.0.norm.weight']).toEqual([6]);
    expect(shapes['blocks.1.temporal.fc1.weight']).toEqual([2, 3]);
    expect(shapes['blocks.1.temporal.fc2.weight']).toEqual([3, 2]);
    expect(shapes['blocks.0.spatial.fc1.weight']).toEqual([2, 2]);
    expect(shapes['blocks.0.channel.fc1.weight']).toEqual([2, 6]);
    expect(shapes['blocks.0.channel.fc2.weight']).toEqual([6, 2]);
    expect(shapes['head.weight']).toEqual([3, 6]);
    expect(shapes['head.bias']).toEqual([3]);
    expect(Object.keys(shapes).filter((k) => k.startsWith('blocks.')).length).toBe(2 * 14);
    expect(net.decayMask('head.weight')).toBe(true);
    expect(net.decayMask('blocks.0.temporal.fc1.weight')).toBe(true);
    expect(net.decayMask('blocks.0.norm.weight')).toBe(false);
    expect(net.decayMask('norm.weight')).toBe(false);
    expect(net.decayMask('blocks.0.channel.fc2.bias')).toBe(false);
    const noSpatial = createSideNetwork({ ...SMALL, tokens: 1 }, 1);
    expect([...noSpatial.variables.keys()].some((k) => k.includes('spatial'))).toBe(false);
    net.dispose();
    noSpatial.dispose();
  });

  it('is deterministic given the seed', () => {
    const a = getSideWeights(createSideNetwork(SMALL, 5));
    const b = getSideWeights(createSideNetwork(SMALL, 5));
    const c = getSideWeights(createSideNetwork(SMALL, 6));
    expect(a.map((t) => Array.from(t.data))).toEqual(b.map((t) => Array.from(t.data)));
    const fc1 = (w: typeof a) => Array.from(w.find((t) => t.name === 'blocks.0.channel.fc1.weight')!.data);
    expect(fc1(a)).not.toEqual(fc1(c));
  });

  it('rejects features of the wrong shape with one line', () => {
    const net = createSideNetwork(SMALL, 1);
    const bad = tf.zeros([2, 3, 2, 2, 7]);
    expect(() => net.apply(bad)).toThrow(LosaError);
    expect(() => net.apply(bad)).toThrow(/expects features \[B, 3, 2, 2, 6\].*got \[2, 3, 2, 2, 7\]/);
    expect(() => net.apply(new Float32Array(5))).toThrow(/got 5/);
    expect(() => net.apply([new Float32Array(3 * 2 * 2 * 6), new Float32Array(7)])).toThrow(/got 7/);
    expect(() => net.apply([])).toThrow(/got 0/);
    expect(() => defaultSideConfig(SHAPE, { activation: 'relu' as never })).toThrow(/Expected `activation` to be "gelu" or "quick-gelu", got "relu"/);
    expect(() => defaultSideConfig(SHAPE, { rank: 0 })).toThrow(/Expected `rank` to be a positive integer, got 0/);
    bad.dispose();
    net.dispose();
  });
});

describe('side network numerics', () => {
  it('at initialisation, LoSA logits equal the linear probe on the same head weights', () => {
    const config = defaultSideConfig({ numFrames: 4, numLayers: 3, tokens: 5, width: 16, numClasses: 4 });
    const losa = createSideNetwork(config, 11);
    const probe = createSideNetwork({ ...config, kind: 'linear' }, 99);
    // Give the head non-trivial values, then copy the head into the probe.
    const head = new Map(getSideWeights(losa).filter((t) => !t.name.startsWith('blocks.'))
      .map((t) => [t.name, { shape: t.shape, data: Float32Array.from(t.data, (v, i) => v + 0.1 * Math.sin(i + t.data.length)) }]));
    setSideWeights(probe, head);
    const all = new Map(getSideWeights(losa).map((t) => [t.name, t]));
    for (const [k, v] of head) all.set(k, { name: k, ...v });
    setSideWeights(losa, all);
    const data = randomFeatures(3 * 4 * 3 * 5 * 16, 'init');
    const a = losa.apply(data), b = probe.apply(data);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    // And the probe reads only the last layer: changing the others changes nothing.
    const changed = data.slice();
    const perLayer = 5 * 16;
    for (let clip = 0; clip < 3 * 4; clip++) changed.fill(3, clip * 3 * perLayer, clip * 3 * perLayer + 2 * perLayer);
    const c = probe.apply(changed), d = losa.apply(changed);
    expect(Array.from(c.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(Array.from(d.dataSync())).toEqual(Array.from(c.dataSync()));
    tf.dispose([a, b, c, d]);
    losa.dispose();
    probe.dispose();
  });

  const forwardCases: [string, Partial<SideConfig>][] = [
    ['P = 2', {}], ['P = 1', { tokens: 1 }], ['T = 1', { numFrames: 1 }], ['linear', { kind: 'linear' }],
    ['quick-gelu', { activation: 'quick-gelu' }],
  ];
  for (const [label, over, kernels] of forwardCases.flatMap(([l, o]) => (['tfjs', 'host'] as const).map((k) => [l, o, k] as const))) {
    it(`matches the float64 reference forward (${label}, ${kernels} kernels)`, () => {
      setSideKernels(kernels);
      const config = { ...SMALL, ...over };
      const net = createSideNetwork(config, 2);
      const params = randomiseWeights(net, `fwd-${label}`);
      const B = 3;
      const data = randomFeatures(B * config.numFrames * config.numLayers * config.tokens * config.width, `x-${label}`);
      const out = net.apply(data);
      expect(maxRelDiff(out.dataSync(), referenceLogits(data, B, config, params))).toBeLessThan(1e-5);
      out.dispose();
      net.dispose();
    });
  }

  const gradientCases: [string, Partial<SideConfig>][] = [
    ['gelu', { activation: 'gelu' }], ['quick-gelu', { activation: 'quick-gelu' }], ['linear', { kind: 'linear' }],
  ];
  it.each(gradientCases.flatMap(([l, o]) => (['tfjs', 'host'] as const).map((k) => [l, k, o] as const)))('%s, %s kernels: gradients match central finite differences of the reference, for every parameter', (_, kernels, over) => {
    setSideKernels(kernels);
    const config = { ...SMALL, ...over };
    const net = createSideNetwork(config, 3);
    const params = randomiseWeights(net, 'grad');
    const B = 2, smoothing = 0.1, labels = [2, 0];
    const data = randomFeatures(B * 3 * 2 * 2 * 6, 'grad-x');
    const y = tf.tensor1d(labels, 'int32');
    const { loss, grads } = computeGradients(net, data, y, smoothing);
    const lossAt = (p: Params): number => referenceLoss(referenceLogits(data, B, config, p), labels, config.numClasses, smoothing);
    expect(Math.abs(loss - lossAt(params))).toBeLessThan(1e-5 * Math.max(1, Math.abs(loss)));
    const h = 1e-5;
    let checked = 0;
    for (const [name, values] of params) {
      const analytic = grads.get(name)!.dataSync();
      const numeric = new Float64Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const keep = values[i]!;
        values[i] = keep + h;
        const up = lossAt(params);
        values[i] = keep - h;
        const down = lossAt(params);
        values[i] = keep;
        numeric[i] = (up - down) / (2 * h);
      }
      for (let i = 0; i < values.length; i++) {
        const tol = 1e-3 * Math.max(Math.abs(numeric[i]!), 1e-2);
        if (Math.abs(analytic[i]! - numeric[i]!) > tol) {
          throw new Error(`${name}[${i}]: analytic ${analytic[i]} vs numeric ${numeric[i]}`);
        }
        checked++;
      }
    }
    expect(checked).toBe(sideParamCount(config));
    for (const g of grads.values()) g.dispose();
    y.dispose();
    net.dispose();
  });

  it('computes the same on the wasm backend as on cpu', async () => {
    const config = defaultSideConfig({ numFrames: 4, numLayers: 2, tokens: 5, width: 16, numClasses: 3 }, { rank: 4 });
    const data = randomFeatures(3 * 4 * 2 * 5 * 16, 'wasm');
    const run = (): { logits: number[]; grads: Map<string, number[]> } => {
      const net = createSideNetwork(config, 4);
      randomiseWeights(net, 'wasm-w');
      const logits = net.apply(data);
      const y = tf.tensor1d([0, 1, 2], 'int32');
      const r = computeGradients(net, data, y, 0.1);
      const out = { logits: Array.from(logits.dataSync()), grads: new Map([...r.grads].map(([k, g]) => [k, Array.from(g.dataSync())])) };
      tf.dispose([logits, y, ...r.grads.values()]);
      net.dispose();
      return out;
    };
    const onCpu = run();
    await initTf('wasm');
    try {
      const onWasm = run();
      expect(maxRelDiff(onWasm.logits, onCpu.logits)).toBeLessThan(1e-4);
      for (const [name, g] of onCpu.grads) expect(maxRelDiff(onWasm.grads.get(name)!, g), name).toBeLessThan(1e-3);
    } finally {
      await initTf('cpu');
    }
  });
});
