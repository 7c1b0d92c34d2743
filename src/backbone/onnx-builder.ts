// A small ONNX graph builder over onnx-proto (protobufjs): nodes with fresh output names, inline
// constants, initializers whose bytes live in external data, and the final model. It knows
// nothing of ViTs; graph.ts says what to build.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const OPSET = 17;
export const MS_DOMAIN = 'com.microsoft';

/** Where an initializer's bytes live in the external data. */
export interface ExternalRef {
  location: string;
  offset: number;
  length: number;
}

export type Attr = { name: string } & ({ i: number } | { f: number } | { ints: number[] });

function attribute(a: Attr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in a) return { name: a.name, type: T.INT, i: a.i };
  if ('f' in a) return { name: a.name, type: T.FLOAT, f: a.f };
  return { name: a.name, type: T.INTS, ints: a.ints };
}

function tensorType(dims: (number | string)[]): onnxProto.onnx.ITypeProto {
  return {
    tensorType: {
      elemType: onnx.TensorProto.DataType.FLOAT,
      shape: { dim: dims.map((v) => (typeof v === 'string' ? { dimParam: v } : { dimValue: v })) },
    },
  };
}

export class OnnxBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private counter = 0;

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  /** A node with `outputs` fresh outputs; returns their names. */
  node(opType: string, inputs: string[], attrs: Attr[] = [], domain = '', outputs = 1): string[] {
    const outs = Array.from({ length: outputs }, () => this.fresh(opType));
    this.nodes.push({ opType, input: inputs, output: outs, attribute: attrs.map(attribute), domain, name: this.fresh(`n_${opType}`) });
    return outs;
  }

  /** A node with one output. */
  op(opType: string, inputs: string[], attrs: Attr[] = [], domain = ''): string {
    return this.node(opType, inputs, attrs, domain)[0]!;
  }

  /** A node whose single output has a fixed name (the graph's output). */
  named(opType: string, inputs: string[], output: string, attrs: Attr[] = []): void {
    this.nodes.push({ opType, input: inputs, output: [output], attribute: attrs.map(attribute), name: output });
  }

  /** An inline int64 vector. */
  ints(values: number[]): string {
    const name = this.fresh('const_i64');
    this.initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: values });
    return name;
  }

  /** An inline float32 tensor. */
  floats(dims: number[], values: Float32Array | number[]): string {
    const name = this.fresh('const_f32');
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    this.initializers.push({
      name, dims, dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** A named float32 weight whose bytes are in external data. */
  external(name: string, dims: number[], ref: ExternalRef): void {
    this.initializers.push({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: ref.location },
        { key: 'offset', value: String(ref.offset) },
        { key: 'length', value: String(ref.length) },
      ],
    });
  }

  /** The model's protobuf bytes, with one float input and one float output. */
  finish(name: string, input: { name: string; dims: (number | string)[] }, output: { name: string; dims: (number | string)[] }): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'losa',
      opsetImport: [{ domain: '', version: OPSET }, { domain: MS_DOMAIN, version: 1 }],
      graph: {
        name,
        node: this.nodes,
        initializer: this.initializers,
        input: [{ name: input.name, type: tensorType(input.dims) }],
        output: [{ name: output.name, type: tensorType(output.dims) }],
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
