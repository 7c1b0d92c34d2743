// Public API of src/backbone/: the frozen ViT on onnxruntime.
export type { BackboneConfig, GeluKind, Interpolation } from './config.js';
export {
  BACKBONE_PRESETS, CONFIG_DEFAULTS, presetsDir, backboneDescription, validateBackboneConfig, canonicalConfigJson, gridSize, tokenCount,
  prefixTokens, withDefaults,
} from './config.js';
export type { ResolvedBackbone } from './source.js';
export { resolveBackbone, resolveBackboneConfig } from './source.js';
export type { ResolvedFolder } from './folder.js';
export { resolveFolder } from './folder.js';
export type { FolderModel, Layout, Family, Preprocessing } from './folder-types.js';
export { TIMM_ARCHS } from './timm-archs.js';
export type { BackboneStats } from './stats.js';
export {
  countBackboneParams, flopsPerFrame, activationBytesPerFrame, chunkForBudget, peakBytesForChunk, backboneStats,
} from './stats.js';
export type { PoolSpec } from './pooling.js';
export { DEFAULT_POOL, DEFAULT_LAYERS, parsePool, poolName, pooledTokens, parseLayers, layersName, poolingMatrix } from './pooling.js';
export type { PosResample } from './posembed.js';
export { resizeBicubic, fitPositionEmbedding } from './posembed.js';
export type { GraphFlavour, WeightSpec } from './graph.js';
export { buildVitModel, graphWeightSpecs } from './graph.js';
export type { WeightNaming, NamingKind } from './naming.js';
export { detectNaming } from './naming.js';
export type { LoadedWeights, WeightSink, WeightsReport } from './weights.js';
export { loadWeightsFile, inspectWeights, randomWeights, backboneDigest } from './weights.js';
export type { Backbone, BackboneOptions } from './session.js';
export { loadBackboneInProcess, resolveChunk, loadOrt, DEFAULT_MAX_CHUNK, PREPACK_LIMIT_BYTES } from './session.js';
export { loadBackbone, loadBackboneIsolated, BackboneCrash } from './isolated.js';
export { normalizeFrames } from './preprocess.js';
export type { LazyBackbone, LazyHooks } from './lazy.js';
export { openLazyBackbone, backboneDigestOf, weightsIdentityOf } from './lazy.js';
