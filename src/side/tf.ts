// TensorFlow.js for the side network: tfjs-core alone (ops, gradients, variables), loaded with
// require(). Two choices, both for memory (measured after loading, with the wasm backend):
// - not the '@tensorflow/tfjs' union package, which also loads layers, converter, data and the
//   webgl and cpu backends that the side network never uses: 50 MiB resident against 69;
// - require() rather than an ES import: Node scans an imported CommonJS bundle (and every
//   package it re-exports) for named exports, which stays resident (`losa classify` peaked
//   7–10 MiB higher).
// The engine is global to the process: @tensorflow/tfjs-node(-gpu), which loads the union
// package, registers its backend with this same engine.
import { createRequire } from 'node:module';
import type * as TF from '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);

export const tf = require('@tensorflow/tfjs-core') as typeof TF;

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
