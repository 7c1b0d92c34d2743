// The ViT as an ONNX graph, built in code from the config with onnx-proto (protobufjs).
//
//   frames [N,3,S,S] ─Conv p×p stride p→ [N,D,g,g] → [N,g²,D] ─(class token)→ [N,n,D] + pos
//   blocks: x += Attn(LN(x)); x += MLP(LN(x))           (pre-norm, qkv bias)
//   after each tapped block: pooled = Pool[P,n] · x → [N,P,D]
//   features = concat of the tapped blocks → [N,L,P,D]   (the only output)
//
// Weights are never inline: every initializer points into external data (an in-memory buffer
// or a file beside the model), so the protobuf stays small whatever the model size and the 2 GiB
// protobuf limit never applies.
import onnxProto from 'onnx-proto';
import type { BackboneConfig } from './config.js';
import { gridSize, tokenCount } from './config.js';
import type { PoolSpec } from './pooling.js';
import { pooledTokens, poolingMatrix } from './pooling.js';

const { onnx } = onnxProto;

export const OPSET = 17;
export const MS_DOMAIN = 'com.microsoft';

/**
 * How attention and GELU are expressed. `fused`: onnxruntime's com.microsoft contrib ops
 * (Attention with packed qkv weights, BiasGelu / FastGelu), which its CPU and CUDA providers
 * implement. `plain`: standard ONNX ops only (MatMul, Softmax, Erf / Tanh).
 */
export type GraphFlavour = 'fused' | 'plain';

/** One weight tensor of the graph, in the layout the graph uses (float32). */
export interface WeightSpec {
  name: string;
  dims: number[];
}

/** Where an initializer's bytes live in the external data. */
export interface ExternalRef {
  location: string;
  offset: number;
  length: number;
}

/**
 * The graph's weights in order, with their layouts. Linear weights are [in, out] (so
 * y = x·W + b needs no transpose); qkv is packed [D, 3D] as q | k | v.
 */
export function graphWeightSpecs(config: BackboneConfig, blocks: number): WeightSpec[] {
  const { width: d, mlpDim: m, patchSize: p } = config;
  const specs: WeightSpec[] = [
    { name: 'patch.weight', dims: [d, 3, p, p] },
    { name: 'patch.bias', dims: [d] },
  ];
  if (config.classToken) specs.push({ name: 'cls', dims: [1, 1, d] });
  specs.push({ name: 'pos', dims: [1, tokenCount(config), d] });
  for (let i = 0; i < blocks; i++) {
    const b = `block${i}.`;
    specs.push(
      { name: b + 'ln1.weight', dims: [d] },
      { name: b + 'ln1.bias', dims: [d] },
      { name: b + 'qkv.weight', dims: [d, 3 * d] },
      { name: b + 'qkv.bias', dims: [3 * d] },
      { name: b + 'proj.weight', dims: [d, d] },
      { name: b + 'proj.bias', dims: [d] },
      { name: b + 'ln2.weight', dims: [d] },
      { name: b + 'ln2.bias', dims: [d] },
      { name: b + 'fc1.weight', dims: [d, m] },
      { name: b + 'fc1.bias', dims: [m] },
      { name: b + 'fc2.weight', dims: [m, d] },
      { name: b + 'fc2.bias', dims: [d] },
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

type Attr = { name: string } & ({ i: number } | { f: number } | { ints: number[] });

/** Build the model; returns its protobuf bytes. */
export function buildVitModel(options: GraphOptions): Uint8Array {
  const { config, layers, pool, flavour, external } = options;
  const { width: d, heads: h, patchSize: p, imageSize: s } = config;
  const dh = d / h;
  const g = gridSize(config);
  const n = tokenCount(config);
  const blocks = layers[layers.length - 1]! + 1;
  const P = pooledTokens(pool, config);

  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  let counter = 0;
  const fresh = (hint: string): string => `${hint}_${counter++}`;

  const attribute = (a: Attr): onnxProto.onnx.IAttributeProto => {
    const T = onnx.AttributeProto.AttributeType;
    if ('i' in a) return { name: a.name, type: T.INT, i: a.i };
    if ('f' in a) return { name: a.name, type: T.FLOAT, f: a.f };
    return { name: a.name, type: T.INTS, ints: a.ints };
  };
  const node = (opType: string, inputs: string[], attrs: Attr[] = [], domain = '', outputs = 1, hint = opType): string[] => {
    const outs = Array.from({ length: outputs }, () => fresh(hint));
    nodes.push({ opType, input: inputs, output: outs, attribute: attrs.map(attribute), domain, name: fresh(`n_${opType}`) });
    return outs;
  };
  const op = (opType: string, inputs: string[], attrs: Attr[] = [], domain = ''): string => node(opType, inputs, attrs, domain)[0]!;

  // Small constants are inline; weights are external.
  const constInts = (values: number[]): string => {
    const name = fresh('const_i64');
    initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: values });
    return name;
  };
  const constFloats = (dims: number[], values: Float32Array | number[]): string => {
    const name = fresh('const_f32');
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    initializers.push({
      name, dims, dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  };
  for (const spec of graphWeightSpecs(config, blocks)) {
    const ref = external.get(spec.name);
    if (!ref) throw new Error(`buildVitModel: no external data for weight ${spec.name}`);
    initializers.push({
      name: spec.name,
      dims: spec.dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: ref.location },
        { key: 'offset', value: String(ref.offset) },
        { key: 'length', value: String(ref.length) },
      ],
    });
  }

  const layerNorm = (x: string, prefix: string): string =>
    op('LayerNormalization', [x, prefix + '.weight', prefix + '.bias'], [{ name: 'axis', i: -1 }, { name: 'epsilon', f: config.layerNormEps }]);
  const linear = (x: string, prefix: string): string => op('Add', [op('MatMul', [x, prefix + '.weight']), prefix + '.bias']);

  // Patch embedding: [N,3,S,S] → [N,D,g,g] → [N,D,g²] → [N,g²,D]
  const conv = op('Conv', ['frames', 'patch.weight', 'patch.bias'], [
    { name: 'kernel_shape', ints: [p, p] },
    { name: 'strides', ints: [p, p] },
  ]);
  const flat = op('Reshape', [conv, constInts([0, d, g * g])]);
  let x = op('Transpose', [flat], [{ name: 'perm', ints: [0, 2, 1] }]); // [N, g², D]
  if (config.classToken) {
    // Broadcast the class token to [N,1,D]: its batch size comes from the input's shape.
    const batch = op('Slice', [op('Shape', ['frames']), constInts([0]), constInts([1])]); // [1] = N
    const shape = op('Concat', [batch, constInts([1, d])], [{ name: 'axis', i: 0 }]);
    const cls = op('Expand', ['cls', shape]); // [N,1,D]
    x = op('Concat', [cls, x], [{ name: 'axis', i: 1 }]); // [N,n,D]
  }
  x = op('Add', [x, 'pos']);

  // Constants of the plain flavour, made on first use so that the fused graph carries none.
  const once = <T>(make: () => T): (() => T) => {
    let value: T | undefined;
    return () => (value ??= make());
  };
  const scale = once(() => constFloats([], [1 / Math.sqrt(dh)]));
  const headsShape = once(() => constInts([0, 0, h, dh]));
  const mergedShape = once(() => constInts([0, 0, d]));
  const splitSizes = once(() => constInts([d, d, d]));
  const half = once(() => constFloats([], [0.5]));
  const one = once(() => constFloats([], [1]));
  const attention = (hidden: string, b: string): string => {
    if (flavour === 'fused') {
      // com.microsoft Attention: input [N,n,D], weights [D,3D], bias [3D] → [N,n,D].
      return op('Attention', [hidden, b + 'qkv.weight', b + 'qkv.bias'], [{ name: 'num_heads', i: h }], MS_DOMAIN);
    }
    const qkv = linear(hidden, b + 'qkv'); // [N,n,3D]
    const [q, k, v] = node('Split', [qkv, splitSizes()], [{ name: 'axis', i: -1 }], '', 3) as [string, string, string];
    const heads = (t: string, perm: number[]): string =>
      op('Transpose', [op('Reshape', [t, headsShape()])], [{ name: 'perm', ints: perm }]);
    const qh = heads(op('Mul', [q, scale()]), [0, 2, 1, 3]); // [N,H,n,dh]
    const kt = heads(k, [0, 2, 3, 1]); // [N,H,dh,n]
    const vh = heads(v, [0, 2, 1, 3]); // [N,H,n,dh]
    const probs = op('Softmax', [op('MatMul', [qh, kt])], [{ name: 'axis', i: -1 }]); // [N,H,n,n]
    const mixed = op('Transpose', [op('MatMul', [probs, vh])], [{ name: 'perm', ints: [0, 2, 1, 3] }]); // [N,n,H,dh]
    return op('Reshape', [mixed, mergedShape()]); // [N,n,D]
  };
  const gelu = (pre: string, bias: string): string => {
    if (flavour === 'fused') return op(config.gelu === 'exact' ? 'BiasGelu' : 'FastGelu', [pre, bias], [], MS_DOMAIN);
    const a = op('Add', [pre, bias]);
    let inner: string;
    if (config.gelu === 'exact') {
      inner = op('Erf', [op('Mul', [a, constFloats([], [Math.SQRT1_2])])]);
    } else {
      const cube = op('Mul', [op('Mul', [a, a]), a]);
      const poly = op('Add', [a, op('Mul', [cube, constFloats([], [0.044715])])]);
      inner = op('Tanh', [op('Mul', [poly, constFloats([], [Math.sqrt(2 / Math.PI)])])]);
    }
    return op('Mul', [op('Mul', [a, half()]), op('Add', [inner, one()])]);
  };

  const poolMatrix = pool.kind === 'none' ? undefined : constFloats([P, n], poolingMatrix(pool, config));
  const axis1 = constInts([1]);
  const tapped: string[] = [];
  for (let i = 0; i < blocks; i++) {
    const b = `block${i}.`;
    x = op('Add', [x, linear(attention(layerNorm(x, b + 'ln1'), b), b + 'proj')]);
    const hidden = gelu(op('MatMul', [layerNorm(x, b + 'ln2'), b + 'fc1.weight']), b + 'fc1.bias'); // [N,n,M]
    x = op('Add', [x, linear(hidden, b + 'fc2')]);
    if (layers.includes(i)) {
      const pooled = poolMatrix ? op('MatMul', [poolMatrix, x]) : x; // [N,P,D]
      tapped.push(op('Unsqueeze', [pooled, axis1])); // [N,1,P,D]
    }
  }
  nodes.push({
    opType: tapped.length === 1 ? 'Identity' : 'Concat',
    input: tapped,
    output: ['features'],
    attribute: tapped.length === 1 ? [] : [attribute({ name: 'axis', i: 1 })],
    name: 'features',
  });

  const tensorType = (dims: (number | string)[]): onnxProto.onnx.ITypeProto => ({
    tensorType: {
      elemType: onnx.TensorProto.DataType.FLOAT,
      shape: { dim: dims.map((v) => (typeof v === 'string' ? { dimParam: v } : { dimValue: v })) },
    },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'losa',
    opsetImport: [{ domain: '', version: OPSET }, { domain: MS_DOMAIN, version: 1 }],
    graph: {
      name: config.name ?? 'vit',
      node: nodes,
      initializer: initializers,
      input: [{ name: 'frames', type: tensorType(['N', 3, s, s]) }],
      output: [{ name: 'features', type: tensorType(['N', layers.length, P, d]) }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
