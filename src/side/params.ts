// The side network's named parameters: PyTorch names and layouts, and their initialisation.
//
// Layout (as torch.nn.Linear / nn.LayerNorm would store them, so a PyTorch user can load the
// safetensors file into the same modules):
//   blocks.{l}.norm.weight            [D]        LayerNorm on b_l + s_{l-1}
//   blocks.{l}.norm.bias              [D]
//   blocks.{l}.temporal.fc1.weight    [r_t, T]   Linear along frames, T → r_t
//   blocks.{l}.temporal.fc1.bias      [r_t]
//   blocks.{l}.temporal.fc2.weight    [T, r_t]   r_t → T
//   blocks.{l}.temporal.fc2.bias      [T]
//   blocks.{l}.spatial.fc1.weight     [r_s, P]   Linear along pooled tokens (absent when P = 1)
//   blocks.{l}.spatial.fc1.bias       [r_s]
//   blocks.{l}.spatial.fc2.weight     [P, r_s]
//   blocks.{l}.spatial.fc2.bias       [P]
//   blocks.{l}.channel.fc1.weight     [r, D]     Linear along channels, D → r
//   blocks.{l}.channel.fc1.bias       [r]
//   blocks.{l}.channel.fc2.weight     [D, r]     r → D, zero at initialisation
//   blocks.{l}.channel.fc2.bias       [D]        zero at initialisation
//   norm.weight, norm.bias            [D]        head LayerNorm on b_L + s_L
//   head.weight                       [K, D]
//   head.bias                         [K]
// The linear probe has only norm.* and head.*, with the same meaning.
import { createRng, type Rng } from '../random.js';
import type { SideConfig } from './config.js';

export type SideParamInit =
  | { kind: 'ones' }
  | { kind: 'zeros' }
  /** PyTorch's nn.Linear default: U(−1/√fanIn, 1/√fanIn) for weight and bias. */
  | { kind: 'uniform'; bound: number }
  | { kind: 'normal'; std: number };

export interface SideParamSpec {
  name: string;
  shape: number[];
  init: SideParamInit;
}

function linearSpecs(prefix: string, inFeatures: number, outFeatures: number, zero = false): SideParamSpec[] {
  const bound = 1 / Math.sqrt(inFeatures);
  const init: SideParamInit = zero ? { kind: 'zeros' } : { kind: 'uniform', bound };
  return [
    { name: `${prefix}.weight`, shape: [outFeatures, inFeatures], init },
    { name: `${prefix}.bias`, shape: [outFeatures], init },
  ];
}

function normSpecs(prefix: string, width: number): SideParamSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [width], init: { kind: 'ones' } },
    { name: `${prefix}.bias`, shape: [width], init: { kind: 'zeros' } },
  ];
}

/** Every trainable tensor of the network, in a stable order (blocks in layer order, then head). */
export function sideParamSpecs(config: SideConfig): SideParamSpec[] {
  const { numFrames: T, tokens: P, width: D, numClasses: K } = config;
  const specs: SideParamSpec[] = [];
  if (config.kind === 'losa') {
    for (let l = 0; l < config.numLayers; l++) {
      const block = `blocks.${l}`;
      specs.push(...normSpecs(`${block}.norm`, D));
      specs.push(...linearSpecs(`${block}.temporal.fc1`, T, config.temporalRank));
      specs.push(...linearSpecs(`${block}.temporal.fc2`, config.temporalRank, T));
      if (P > 1) {
        specs.push(...linearSpecs(`${block}.spatial.fc1`, P, config.spatialRank));
        specs.push(...linearSpecs(`${block}.spatial.fc2`, config.spatialRank, P));
      }
      specs.push(...linearSpecs(`${block}.channel.fc1`, D, config.rank));
      // Zero up-projection: every block adds exactly nothing at first, so the model starts as
      // the linear probe on the last layer.
      specs.push(...linearSpecs(`${block}.channel.fc2`, config.rank, D, true));
    }
  }
  specs.push(...normSpecs('norm', D));
  specs.push({ name: 'head.weight', shape: [K, D], init: { kind: 'normal', std: 0.02 } });
  specs.push({ name: 'head.bias', shape: [K], init: { kind: 'zeros' } });
  return specs;
}

/** Initial values, drawn from a stream forked per tensor name so each is independent of order. */
export function initialValues(spec: SideParamSpec, seed: number): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  const init = spec.init;
  if (init.kind === 'ones') data.fill(1);
  if (init.kind === 'zeros') return data;
  if (init.kind === 'uniform' || init.kind === 'normal') {
    const rng: Rng = createRng(seed).fork(spec.name);
    for (let i = 0; i < size; i++) {
      data[i] = init.kind === 'uniform' ? rng.uniform(-init.bound, init.bound) : rng.normal() * init.std;
    }
  }
  return data;
}

/** Weight decay applies to matrices only: not to LayerNorm parameters, not to biases. */
export function sideDecayMask(name: string): boolean {
  if (name.endsWith('.bias')) return false;
  if (name === 'norm.weight' || name.endsWith('.norm.weight')) return false;
  return true;
}
