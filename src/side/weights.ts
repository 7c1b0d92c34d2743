// The side network's weights as plain arrays, by their PyTorch names: what checkpoints save,
// and what loading a trained run (or resuming one) puts back.
import { tf } from './tf.js';
import { LosaError } from '../errors.js';
import type { SideNetwork } from './network.js';
import type { NamedFloat32Array } from './optim.js';

/** Every weight as a plain array, in the network's stable order (PyTorch names and layouts). */
export function getSideWeights(net: SideNetwork): NamedFloat32Array[] {
  const out: NamedFloat32Array[] = [];
  for (const [name, variable] of net.variables) {
    // dataSync outside any tidy; copy so the caller's array is not a view of backend memory.
    out.push({ name, shape: [...variable.shape], data: Float32Array.from(variable.dataSync() as Float32Array) });
  }
  return out;
}

/**
 * Load weights by name. Every variable must be present with its exact shape; a missing, extra
 * or misshapen tensor is a LosaError naming it (nothing is changed then).
 */
export function setSideWeights(net: SideNetwork, tensors: Map<string, { shape: number[]; data: Float32Array }>): void {
  for (const [name, variable] of net.variables) {
    const t = tensors.get(name);
    if (t === undefined) throw new LosaError(`side-network weights lack tensor ${name}`);
    const want = variable.shape;
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new LosaError(`side-network tensor ${name} has shape [${t.shape.join(', ')}], expected [${want.join(', ')}]`);
    }
    if (t.data.length !== variable.size) {
      throw new LosaError(`side-network tensor ${name} has ${t.data.length} values, expected ${variable.size}`);
    }
  }
  for (const name of tensors.keys()) {
    if (!net.variables.has(name)) throw new LosaError(`side-network weights have an unexpected tensor ${name}`);
  }
  for (const [name, variable] of net.variables) {
    const t = tensors.get(name)!;
    tf.tidy(() => variable.assign(tf.tensor(t.data, t.shape, 'float32')));
  }
}
