// Public API of src/backbone/: the frozen ViT on onnxruntime.
export type { BackboneConfig } from './config.js';
export {
  BACKBONE_PRESETS, presetsDir, backboneDescription, validateBackboneConfig, resolveBackboneConfig, canonicalConfigJson, gridSize, tokenCount,
} from './config.js';
export type { BackboneStats } from './stats.js';
export {
  countBackboneParams, flopsPerFrame, activationBytesPerFrame, chunkForBudget, peakBytesForChunk, backboneStats,
} from './stats.js';
export type { PoolSpec } from './pooling.js';
export { DEFAULT_POOL, DEFAULT_LAYERS, parsePool, poolName, pooledTokens, parseLayers, layersName, poolingMatrix } from './pooling.js';
export { resizeBicubic, fitPositionEmbedding } from './posembed.js';
export type { GraphFlavour, WeightSpec } from './graph.js';
export { buildVitModel, graphWeightSpecs } from './graph.js';
export type { WeightNaming } from './naming.js';
export { detectNaming } from './naming.js';
export type { LoadedWeights, WeightSink } from './weights.js';
export { loadWeightsFile, randomWeights, backboneDigest } from './weights.js';
export type { Backbone, BackboneOptions } from './session.js';
export { loadBackboneInProcess, resolveChunk, loadOrt, DEFAULT_MAX_CHUNK, PREPACK_LIMIT_BYTES } from './session.js';
export { loadBackbone, loadBackboneIsolated, BackboneCrash } from './isolated.js';
export { normalizeFrames } from './preprocess.js';
