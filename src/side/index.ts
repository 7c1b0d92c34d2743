// Public API of src/side/: the trainable side network (LoSA or a linear probe) in TensorFlow.js.
export { initTf, currentTfBackend, type TfBackendName, type TfBackendPreference, type TfHandle } from './backend.js';
export {
  defaultSideConfig, validateSideConfig, sideParamCount, SIDE_DEFAULTS,
  type SideConfig, type SideKind, type SideShape,
} from './config.js';
export { sideParamSpecs, sideDecayMask, type SideParamSpec, type SideParamInit } from './params.js';
export { createSideNetwork, type SideNetwork } from './network.js';
export { featureBatchSize, type SideFeatures } from './input.js';
export { AdamW, learningRateAt, smoothedCrossEntropy, type AdamWOptions, type AdamWState, type LrSchedule, type NamedFloat32Array } from './optim.js';
export { accumulateGradient, computeGradients, GradientAccumulator, type GradientResult } from './step.js';
export { getSideWeights, setSideWeights } from './weights.js';
export { setSideKernels, usesHostKernels, type SideKernels } from './host.js';
