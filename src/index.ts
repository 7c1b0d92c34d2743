// The public API of losa as a library: what a user needs, not the internals (those stay
// importable from their folders, with no promise of stability).
//   loadModel(runDir)  a trained run for inference: predict() / classify() / dispose()
//   train(options)     train a side network on a data set, with typed events
//   loadBackbone(...)  the frozen ViT on onnxruntime: rgb24 frames in, per-layer features out
//   loadClips(...)     a video or image file as the clips the model sees
export {
  loadModel, DEFAULT_BATCH_SIZE, DEFAULT_TOP,
  type LosaModel, type LoadModelOptions, type ModelInput, type Prediction, type Failure, type Classification, type PredictOptions,
} from './model/model.js';
export { readRunManifest, RUN_FILES, type RunManifest, type RunCheckpoint } from './model/run.js';
export { train, type TrainResult } from './train/loop.js';
export type { TrainHooks } from './train/save.js';
export { TRAIN_DEFAULTS, type TrainOptions } from './train/options.js';
export type { LosaEvent, EventSink, RunInfo, EpochSummary } from './train/events.js';
export { createRenderer, pickRenderMode, type Renderer, type RenderMode } from './ui/index.js';
export { loadBackbone, resolveBackboneConfig, BACKBONE_PRESETS, BackboneCrash, type Backbone, type BackboneConfig, type BackboneOptions } from './backbone/index.js';
export { loadClips, probeVideo, type Clip, type ClipOptions, type VideoInfo } from './video/index.js';
export { synthDataset, SYNTH_CLASSES, type SynthOptions } from './video/synth.js';
export { openDataset, type Dataset, type DatasetItem } from './data/index.js';
export { createRng, type Rng } from './random.js';
export { LosaError, UsageError } from './errors.js';
