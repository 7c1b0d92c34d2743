// Public API of src/train/: the training loop, multi-view inference, the feature cache and the run directory.
export * from './options.js';
export * from './loop.js';
export * from './inference.js';
export * from './trained.js';
export * from './pipeline.js';
export * from './cache.js';
export * from './metrics.js';
export * from './rundir.js';
