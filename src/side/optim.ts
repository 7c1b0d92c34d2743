// Optimiser maths: AdamW, the learning-rate schedule, label-smoothed cross entropy.
import { tf } from './tf.js';
import { expected, LosaError } from '../errors.js';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay: number;
}

export interface NamedFloat32Array {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface AdamWState {
  step: number;
  /** `${name}.exp_avg` (m) and `${name}.exp_avg_sq` (v) for every variable, PyTorch's names. */
  tensors: NamedFloat32Array[];
}

interface Layout {
  names: string[];
  shapes: number[][];
  sizes: number[];
  offsets: number[];
  total: number;
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * AdamW (Loshchilov & Hutter) as torch.optim.AdamW computes it:
 *   p ← p·(1 − lr·wd)            (decoupled decay, only where decayMask(name))
 *   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
 * All variables are updated as ONE flat vector (one concat, ~15 vector ops, one split), so a
 * step costs a few dozen kernels however many tensors the network has.
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private steps = 0;
  private layout: Layout | undefined;
  private m: tf.Variable | undefined; // [total]
  private v: tf.Variable | undefined; // [total]
  private mask: { fn: (name: string) => boolean; tensor: tf.Tensor1D } | undefined;
  private pending: AdamWState | undefined;

  constructor(opts: AdamWOptions) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-8;
    this.weightDecay = opts.weightDecay;
    for (const [key, value] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(value >= 0 && value < 1)) throw expected(key, 'a number in [0, 1)', value);
    }
    if (!(this.epsilon > 0) || !Number.isFinite(this.epsilon)) throw expected('epsilon', 'a positive number', this.epsilon);
    if (!(this.weightDecay >= 0) || !Number.isFinite(this.weightDecay)) throw expected('weightDecay', 'a number ≥ 0', this.weightDecay);
  }

  /** Optimiser steps taken (restored by setState). */
  get step(): number {
    return this.steps;
  }

  /** One update of `variables` from `grads` (same names; a missing gradient counts as zero). */
  apply(
    variables: Map<string, tf.Variable>,
    grads: Map<string, tf.Tensor>,
    lr: number,
    decayMask: (name: string) => boolean,
  ): void {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw expected('lr', 'a finite number ≥ 0', lr);
    const layout = this.ensureLayout(variables);
    const mask = this.maskFor(layout, decayMask);
    const m = this.m!, v = this.v!;
    const step = this.steps + 1;
    const { beta1: b1, beta2: b2 } = this;
    const stepSize = lr / (1 - b1 ** step);
    const invSqrtBc2 = 1 / Math.sqrt(1 - b2 ** step);
    // In stages, each its own tidy, so that at most a handful of [total] vectors live at once.
    // One tidy around the whole update held all ~20 (86 MiB for ViT-L/16's side network on 400
    // classes, 1.3M parameters), and the wasm heap keeps its high-water mark for the whole run.
    const g = tf.tidy(() => tf.concat(layout.names.map((name, i) => {
      const grad = grads.get(name);
      if (grad === undefined) return tf.zeros([layout.sizes[i]!]);
      if (grad.size !== layout.sizes[i]) {
        throw new LosaError(`gradient for ${name} has shape [${grad.shape.join(', ')}], expected [${layout.shapes[i]!.join(', ')}]`);
      }
      return tf.reshape(grad, [-1]);
    }))); // [total]
    const mNew = tf.tidy(() => tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
    const vNew = tf.tidy(() => tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
    g.dispose();
    m.assign(mNew);
    v.assign(vNew);
    mNew.dispose(); // the variables hold the values now
    vNew.dispose();
    const update = tf.tidy(() => tf.div(tf.mul(m, stepSize), tf.add(tf.mul(tf.sqrt(v), invSqrtBc2), this.epsilon))); // [total]
    const pNew = tf.tidy(() => {
      const p = tf.concat(layout.names.map((name) => tf.reshape(variables.get(name)!, [-1]))); // [total]
      const decay = this.weightDecay > 0 ? tf.sub(1, tf.mul(mask, lr * this.weightDecay)) : tf.scalar(1);
      return tf.sub(tf.mul(p, decay), update) as tf.Tensor1D; // [total]
    });
    update.dispose();
    try {
      scatterToVariables(pNew, layout, variables);
    } finally {
      pNew.dispose();
    }
    this.steps = step;
  }

  /** m and v per variable, and the step count: what a checkpoint needs to resume exactly. */
  getState(): AdamWState {
    if (this.layout === undefined || this.m === undefined || this.v === undefined) {
      return this.pending ?? { step: this.steps, tensors: [] };
    }
    const m = this.m.dataSync() as Float32Array;
    const v = this.v.dataSync() as Float32Array;
    const tensors: NamedFloat32Array[] = [];
    const layout = this.layout;
    layout.names.forEach((name, i) => {
      const begin = layout.offsets[i]!, end = begin + layout.sizes[i]!;
      tensors.push({ name: `${name}.exp_avg`, shape: [...layout.shapes[i]!], data: m.slice(begin, end) });
      tensors.push({ name: `${name}.exp_avg_sq`, shape: [...layout.shapes[i]!], data: v.slice(begin, end) });
    });
    return { step: this.steps, tensors };
  }

  /** Restore getState()'s output; checked against the variables at once or at the next apply. */
  setState(state: AdamWState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new LosaError(`optimiser state: step ${state.step} is not a whole number ≥ 0`);
    for (const t of state.tensors) {
      if (t.data.length !== size(t.shape)) {
        throw new LosaError(`optimiser state: ${t.name} has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
      }
    }
    this.steps = state.step;
    this.pending = state;
    if (this.layout !== undefined) this.loadPending(this.layout);
  }

  dispose(): void {
    this.m?.dispose();
    this.v?.dispose();
    this.mask?.tensor.dispose();
    this.m = this.v = undefined;
    this.mask = undefined;
    this.layout = undefined;
  }

  private ensureLayout(variables: Map<string, tf.Variable>): Layout {
    const names = [...variables.keys()];
    const shapes = names.map((n) => [...variables.get(n)!.shape]);
    if (this.layout !== undefined) {
      const same = this.layout.names.length === names.length &&
        names.every((n, i) => n === this.layout!.names[i] && shapes[i]!.join() === this.layout!.shapes[i]!.join());
      if (!same) throw new LosaError('AdamW.apply: the variables differ from those of earlier steps (use a new optimiser)');
      return this.layout;
    }
    const sizes = shapes.map(size);
    const offsets: number[] = [];
    let total = 0;
    for (const s of sizes) {
      offsets.push(total);
      total += s;
    }
    const layout: Layout = { names, shapes, sizes, offsets, total };
    this.layout = layout;
    if (this.pending !== undefined) {
      this.loadPending(layout);
    } else {
      this.m = tf.tidy(() => tf.variable(tf.zeros([total]), false)); // tidy frees the zeros the variable copied
      this.v = tf.tidy(() => tf.variable(tf.zeros([total]), false));
    }
    return layout;
  }

  private loadPending(layout: Layout): void {
    const state = this.pending!;
    const byName = new Map(state.tensors.map((t) => [t.name, t]));
    const m = new Float32Array(layout.total);
    const v = new Float32Array(layout.total);
    layout.names.forEach((name, i) => {
      for (const [suffix, target] of [['exp_avg', m], ['exp_avg_sq', v]] as const) {
        const key = `${name}.${suffix}`;
        const t = byName.get(key);
        if (t === undefined) throw new LosaError(`optimiser state has no tensor ${key}`);
        if (t.shape.join() !== layout.shapes[i]!.join()) {
          throw new LosaError(`optimiser state tensor ${key} has shape [${t.shape.join(', ')}], expected [${layout.shapes[i]!.join(', ')}]`);
        }
        target.set(t.data, layout.offsets[i]);
      }
    });
    this.m?.dispose();
    this.v?.dispose();
    this.m = tf.tidy(() => tf.variable(tf.tensor1d(m), false));
    this.v = tf.tidy(() => tf.variable(tf.tensor1d(v), false));
    this.pending = undefined;
  }

  private maskFor(layout: Layout, decayMask: (name: string) => boolean): tf.Tensor1D {
    if (this.mask !== undefined && this.mask.fn === decayMask) return this.mask.tensor;
    this.mask?.tensor.dispose();
    const data = new Float32Array(layout.total);
    layout.names.forEach((name, i) => {
      if (decayMask(name)) data.fill(1, layout.offsets[i]!, layout.offsets[i]! + layout.sizes[i]!);
    });
    const tensor = tf.tensor1d(data);
    this.mask = { fn: decayMask, tensor };
    return tensor;
  }
}

/**
 * Write the flat vector back into the variables. On wasm, tf.split is a series of Slice kernels
 * that each copy the WHOLE input (33 ms for 170 pieces of an 83k vector here), so the vector is
 * read once and each piece uploaded (0.5 ms). Elsewhere split stays on the device.
 */
function scatterToVariables(flat: tf.Tensor1D, layout: Layout, variables: Map<string, tf.Variable>): void {
  if (tf.getBackend() === 'wasm') {
    const data = flat.dataSync() as Float32Array; // outside tidy: tidy would walk the array
    layout.names.forEach((name, i) => {
      const begin = layout.offsets[i]!;
      const piece = data.slice(begin, begin + layout.sizes[i]!);
      tf.tidy(() => variables.get(name)!.assign(tf.tensor(piece, layout.shapes[i]!, 'float32')));
    });
    return;
  }
  tf.tidy(() => {
    const parts = tf.split(flat, layout.sizes);
    layout.names.forEach((name, i) => variables.get(name)!.assign(tf.reshape(parts[i]!, layout.shapes[i]!)));
  });
}

export interface LrSchedule {
  baseLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Floor of the cosine decay (default 0). */
  minLr?: number;
}

/**
 * The learning rate for optimiser step `step` (0-based: the update about to be made).
 *   step < W:  baseLr · (step + 1) / W                       linear warmup from baseLr/W
 *   step ≥ W:  minLr + (baseLr − minLr) · ½(1 + cos(π·q)),   q = min(1, (step − W) / max(1, S − W))
 * with W = warmupSteps and S = totalSteps.
 */
export function learningRateAt(step: number, s: LrSchedule): number {
  const minLr = s.minLr ?? 0;
  if (!Number.isInteger(step) || step < 0) throw expected('step', 'a whole number ≥ 0', step);
  if (!(s.baseLr >= 0) || !Number.isFinite(s.baseLr)) throw expected('baseLr', 'a finite number ≥ 0', s.baseLr);
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0) throw expected('warmupSteps', 'a whole number ≥ 0', s.warmupSteps);
  if (!Number.isInteger(s.totalSteps) || s.totalSteps < 0) throw expected('totalSteps', 'a whole number ≥ 0', s.totalSteps);
  if (!(minLr >= 0 && minLr <= s.baseLr)) throw expected('minLr', `a number in [0, baseLr = ${s.baseLr}]`, minLr);
  const warmup = s.warmupSteps;
  if (step < warmup) return (s.baseLr * (step + 1)) / warmup;
  const q = Math.min(1, (step - warmup) / Math.max(1, s.totalSteps - warmup));
  return minLr + (s.baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * q));
}

/**
 * Mean cross entropy against label-smoothed targets, as torch.nn.CrossEntropyLoss(label_smoothing=ε):
 * target = (1 − ε)·onehot(label) + ε/K, loss = mean over the batch of −Σ_k target_k · log softmax_k.
 * logits [B, K] float32, labels [B] int32.
 */
export function smoothedCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, smoothing: number): tf.Scalar {
  const [batch, classes] = logits.shape;
  return tf.tidy(() => {
    const targets = smoothedTargets(labels, batch, classes, smoothing); // [B, K]
    return tf.div(tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)))), batch) as tf.Scalar;
  });
}

/** The label-smoothed targets (1 − ε)·onehot(label) + ε/K [B, K] float32, labels checked. */
export function smoothedTargets(labels: tf.Tensor1D, batch: number, classes: number, smoothing: number): tf.Tensor2D {
  if (!(smoothing >= 0 && smoothing < 1)) throw expected('label smoothing', 'a number in [0, 1)', smoothing);
  if (labels.shape[0] !== batch) throw new LosaError(`labels have ${labels.shape[0]} entries for a batch of ${batch}`);
  // (Not tf.oneHot's own on/off values: with a float32 dtype, the wasm backend returns zeros.)
  return tf.tidy(() => tf.add(tf.mul(tf.cast(tf.oneHot(tf.cast(labels, 'int32'), classes), 'float32'), 1 - smoothing), smoothing / classes) as tf.Tensor2D);
}
