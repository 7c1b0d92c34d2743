// The ViT as an ONNX graph, built in code from the config.
//
//   frames [N,3,S,S] ─Conv p×p stride p (bias optional)→ [N,D,g,g] → [N,g²,D]
//   embeddings: [class token] + patches, + position embedding, then registers after the class
//               token (they have no position embedding), then LN (`lnPre`, CLIP's ln_pre)
//   blocks: x += γ₁·Attn(LN(x)); x += γ₂·MLP(LN(x))   (pre-norm, qkv bias; γ = LayerScale or 1)
//   after each tapped block: pooled = Pool[P,n] · x → [N,P,D]
//   features = concat of the tapped blocks → [N,L,P,D]   (the only output)
//
// Token order inside the graph: class token, registers, patches row-major.
// Weights are never inline: every initializer points into external data (an in-memory buffer
// or a file beside the model), so the protobuf stays small whatever the model size and the 2 GiB
// protobuf limit never applies.
import type { BackboneConfig } from './config.js';
import { gridSize, positionCount, tokenCount, withDefaults, type FullConfig } from './config.js';
import { MS_DOMAIN, OnnxBuilder, type ExternalRef } from './onnx-builder.js';
import type { PoolSpec } from './pooling.js';
import { pooledTokens, poolingMatrix } from './pooling.js';

export type { ExternalRef } from './onnx-builder.js';

/**
 * How attention and GELU are expressed. `fused`: onnxruntime's com.microsoft contrib ops
 * (Attention with packed qkv weights, BiasGelu / FastGelu / QuickGelu), which its CPU and CUDA
 * providers implement. `plain`: standard ONNX ops only (MatMul, Softmax, Erf / Tanh / Sigmoid).
 */
export type GraphFlavour = 'fused' | 'plain';

/** One weight tensor of the graph, in the layout the graph uses (float32). */
export interface WeightSpec {
  name: string;
  dims: number[];
}

/** The embedding weights, in order. */
function embeddingSpecs(c: FullConfig): WeightSpec[] {
  const { width: d, patchSize: p } = c;
  const specs: WeightSpec[] = [{ name: 'patch.weight', dims: [d, 3, p, p] }];
  if (c.patchBias) specs.push({ name: 'patch.bias', dims: [d] });
  if (c.classToken) specs.push({ name: 'cls', dims: [1, 1, d] });
  if (c.registers > 0) specs.push({ name: 'reg', dims: [1, c.registers, d] });
  specs.push({ name: 'pos', dims: [1, positionCount(c), d] });
  if (c.lnPre) specs.push({ name: 'ln_pre.weight', dims: [d] }, { name: 'ln_pre.bias', dims: [d] });
  return specs;
}

/**
 * The graph's weights in order, with their layouts. Linear weights are [in, out] (so
 * y = x·W + b needs no transpose); qkv is packed [D, 3D] as q | k | v; LayerScale γ is [D].
 */
export function graphWeightSpecs(config: BackboneConfig, blocks: number): WeightSpec[] {
  const c = withDefaults(config);
  const { width: d, mlpDim: m } = c;
  const specs = embeddingSpecs(c);
  for (let i = 0; i < blocks; i++) {
    const b = `block${i}.`;
    specs.push(
      { name: b + 'ln1.weight', dims: [d] },
      { name: b + 'ln1.bias', dims: [d] },
      { name: b + 'qkv.weight', dims: [d, 3 * d] },
      { name: b + 'qkv.bias', dims: [3 * d] },
      { name: b + 'proj.weight', dims: [d, d] },
      { name: b + 'proj.bias', dims: [d] },
      ...(c.layerScale ? [{ name: b + 'ls1', dims: [d] }] : []),
      { name: b + 'ln2.weight', dims: [d] },
      { name: b + 'ln2.bias', dims: [d] },
      { name: b + 'fc1.weight', dims: [d, m] },
      { name: b + 'fc1.bias', dims: [m] },
      { name: b + 'fc2.weight', dims: [m, d] },
      { name: b + 'fc2.bias', dims: [d] },
      ...(c.layerScale ? [{ name: b + 'ls2', dims: [d] }] : []),
    );
  }
  return specs;
}

export interface GraphOptions {
  config: BackboneConfig;
  /** Tapped blocks, 0-based, ascending; blocks after the last one are left out of the graph. */
  layers: number[];
  pool: PoolSpec;
  flavour: GraphFlavour;
  /** Where each weight of graphWeightSpecs(config, last tapped block + 1) lives. */
  external: Map<string, ExternalRef>;
}

/** The ViT's parts on top of an OnnxBuilder: one method per job. */
class VitGraph {
  readonly g = new OnnxBuilder();
  readonly c: FullConfig;
  private readonly cache = new Map<string, string>();

  constructor(config: BackboneConfig, private readonly flavour: GraphFlavour) {
    this.c = withDefaults(config);
  }

  /** A constant made on first use, so that a graph carries only the constants it uses. */
  private once(key: string, make: () => string): string {
    let name = this.cache.get(key);
    if (name === undefined) this.cache.set(key, (name = make()));
    return name;
  }

  private scalar(value: number): string {
    return this.once(`f:${value}`, () => this.g.floats([], [value]));
  }

  layerNorm(x: string, prefix: string): string {
    return this.g.op('LayerNormalization', [x, prefix + '.weight', prefix + '.bias'], [{ name: 'axis', i: -1 }, { name: 'epsilon', f: this.c.layerNormEps }]);
  }

  linear(x: string, prefix: string): string {
    return this.g.op('Add', [this.g.op('MatMul', [x, prefix + '.weight']), prefix + '.bias']);
  }

  /** A learned [1, k, D] token block broadcast to [N, k, D]; the batch size comes from the input. */
  private expandTokens(name: string, k: number): string {
    const { g } = this;
    const batch = this.once('batch', () => g.op('Slice', [g.op('Shape', ['frames']), g.ints([0]), g.ints([1])])); // [1] = N
    return g.op('Expand', [name, g.op('Concat', [batch, g.ints([k, this.c.width])], [{ name: 'axis', i: 0 }])]);
  }

  /** frames [N,3,S,S] → tokens [N,n,D]: patches, class token, position embedding, registers, ln_pre. */
  embed(): string {
    const { g, c } = this;
    const { width: d, patchSize: p } = c;
    const grid = gridSize(c);
    const conv = g.op('Conv', ['frames', 'patch.weight', ...(c.patchBias ? ['patch.bias'] : [])], [
      { name: 'kernel_shape', ints: [p, p] },
      { name: 'strides', ints: [p, p] },
    ]); // [N,D,g,g]
    let x = g.op('Transpose', [g.op('Reshape', [conv, g.ints([0, d, grid * grid])])], [{ name: 'perm', ints: [0, 2, 1] }]); // [N,g²,D]
    if (c.classToken) x = g.op('Concat', [this.expandTokens('cls', 1), x], [{ name: 'axis', i: 1 }]); // [N,1+g²,D]
    x = g.op('Add', [x, 'pos']);
    if (c.registers > 0) {
      const reg = this.expandTokens('reg', c.registers); // [N,R,D]
      if (c.classToken) {
        const axis = g.ints([1]);
        const head = g.op('Slice', [x, g.ints([0]), g.ints([1]), axis]); // [N,1,D]
        const tail = g.op('Slice', [x, g.ints([1]), g.ints([tokenCount(c)]), axis]); // [N,g²,D]
        x = g.op('Concat', [head, reg, tail], [{ name: 'axis', i: 1 }]);
      } else {
        x = g.op('Concat', [reg, x], [{ name: 'axis', i: 1 }]);
      }
    }
    return c.lnPre ? this.layerNorm(x, 'ln_pre') : x; // [N,n,D]
  }

  attention(hidden: string, b: string): string {
    const { g, c } = this;
    const { width: d, heads: h } = c;
    if (this.flavour === 'fused') {
      // com.microsoft Attention: input [N,n,D], weights [D,3D], bias [3D] → [N,n,D].
      return g.op('Attention', [hidden, b + 'qkv.weight', b + 'qkv.bias'], [{ name: 'num_heads', i: h }], MS_DOMAIN);
    }
    const dh = d / h;
    const qkv = this.linear(hidden, b + 'qkv'); // [N,n,3D]
    const [q, k, v] = g.node('Split', [qkv, this.once('split', () => g.ints([d, d, d]))], [{ name: 'axis', i: -1 }], '', 3) as [string, string, string];
    const headsShape = this.once('heads', () => g.ints([0, 0, h, dh]));
    const heads = (t: string, perm: number[]): string => g.op('Transpose', [g.op('Reshape', [t, headsShape])], [{ name: 'perm', ints: perm }]);
    const qh = heads(g.op('Mul', [q, this.scalar(1 / Math.sqrt(dh))]), [0, 2, 1, 3]); // [N,H,n,dh]
    const kt = heads(k, [0, 2, 3, 1]); // [N,H,dh,n]
    const vh = heads(v, [0, 2, 1, 3]); // [N,H,n,dh]
    const probs = g.op('Softmax', [g.op('MatMul', [qh, kt])], [{ name: 'axis', i: -1 }]); // [N,H,n,n]
    const mixed = g.op('Transpose', [g.op('MatMul', [probs, vh])], [{ name: 'perm', ints: [0, 2, 1, 3] }]); // [N,n,H,dh]
    return g.op('Reshape', [mixed, this.once('merged', () => g.ints([0, 0, d]))]); // [N,n,D]
  }

  /** GELU of (pre + bias), in the config's form. */
  gelu(pre: string, bias: string): string {
    const { g } = this;
    const kind = this.c.gelu;
    if (this.flavour === 'fused') {
      if (kind === 'quick') return g.op('QuickGelu', [g.op('Add', [pre, bias])], [{ name: 'alpha', f: 1.702 }], MS_DOMAIN);
      return g.op(kind === 'exact' ? 'BiasGelu' : 'FastGelu', [pre, bias], [], MS_DOMAIN);
    }
    const a = g.op('Add', [pre, bias]);
    if (kind === 'quick') return g.op('Mul', [a, g.op('Sigmoid', [g.op('Mul', [a, this.scalar(1.702)])])]);
    let inner: string;
    if (kind === 'exact') {
      inner = g.op('Erf', [g.op('Mul', [a, this.scalar(Math.SQRT1_2)])]);
    } else {
      const cube = g.op('Mul', [g.op('Mul', [a, a]), a]);
      const poly = g.op('Add', [a, g.op('Mul', [cube, this.scalar(0.044715)])]);
      inner = g.op('Tanh', [g.op('Mul', [poly, this.scalar(Math.sqrt(2 / Math.PI))])]);
    }
    return g.op('Mul', [g.op('Mul', [a, this.scalar(0.5)]), g.op('Add', [inner, this.scalar(1)])]);
  }

  /** One pre-norm block with optional LayerScale on both branches. */
  block(x: string, i: number): string {
    const { g } = this;
    const b = `block${i}.`;
    const scaled = (t: string, gamma: string): string => (this.c.layerScale ? g.op('Mul', [t, b + gamma]) : t);
    const attn = this.linear(this.attention(this.layerNorm(x, b + 'ln1'), b), b + 'proj');
    x = g.op('Add', [x, scaled(attn, 'ls1')]);
    const hidden = this.gelu(g.op('MatMul', [this.layerNorm(x, b + 'ln2'), b + 'fc1.weight']), b + 'fc1.bias'); // [N,n,M]
    return g.op('Add', [x, scaled(this.linear(hidden, b + 'fc2'), 'ls2')]);
  }
}

/** Build the model; returns its protobuf bytes. */
export function buildVitModel(options: GraphOptions): Uint8Array {
  const { config, layers, pool, flavour, external } = options;
  const vit = new VitGraph(config, flavour);
  const { g } = vit;
  const blocks = layers[layers.length - 1]! + 1;
  for (const spec of graphWeightSpecs(config, blocks)) {
    const ref = external.get(spec.name);
    if (!ref) throw new Error(`buildVitModel: no external data for weight ${spec.name}`);
    g.external(spec.name, spec.dims, ref);
  }
  const P = pooledTokens(pool, config);
  const poolMatrix = pool.kind === 'none' ? undefined : g.floats([P, tokenCount(config)], poolingMatrix(pool, config));
  const axis1 = g.ints([1]);
  const tapped: string[] = [];
  let x = vit.embed();
  for (let i = 0; i < blocks; i++) {
    x = vit.block(x, i);
    if (!layers.includes(i)) continue;
    const pooled = poolMatrix ? g.op('MatMul', [poolMatrix, x]) : x; // [N,P,D]
    tapped.push(g.op('Unsqueeze', [pooled, axis1])); // [N,1,P,D]
  }
  if (tapped.length === 1) g.named('Identity', tapped, 'features');
  else g.named('Concat', tapped, 'features', [{ name: 'axis', i: 1 }]);
  const s = config.imageSize;
  return g.finish(config.name ?? 'vit', { name: 'frames', dims: ['N', 3, s, s] }, { name: 'features', dims: ['N', layers.length, P, config.width] });
}
