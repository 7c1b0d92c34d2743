// TensorFlow.js for the side network, loaded with require(). Imported as an ES module, its
// CommonJS bundle makes Node scan it and every package it re-exports (layers, converter, data,
// two backends) for named exports, which leaves about 24 MiB more resident (measured after
// loading: 96 MiB against 72 MiB; `losa classify` peaks 7–10 MiB lower). The same module
// instance either way: code that imports '@tensorflow/tfjs' shares this engine.
import { createRequire } from 'node:module';
import type * as TF from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);

export const tf = require('@tensorflow/tfjs') as typeof TF;

/** The types the side network names as `tf.X`. */
export declare namespace tf {
  export type Rank = TF.Rank;
  export type Tensor<R extends Rank = Rank> = TF.Tensor<R>;
  export type Tensor1D = TF.Tensor1D;
  export type Tensor2D = TF.Tensor2D;
  export type Scalar = TF.Scalar;
  export type Variable<R extends Rank = Rank> = TF.Variable<R>;
  export type NamedTensorMap = TF.NamedTensorMap;
}

/**
 * A backend package (its CommonJS build registers it with this engine), loaded the same way;
 * undefined when it is not installed or its native part fails to load.
 */
export function requireBackendPackage<T>(name: string): T | undefined {
  try {
    return require(name) as T;
  } catch {
    return undefined;
  }
}
