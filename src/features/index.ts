// Public API of src/features/: video files → batches of frozen-backbone features (the pipeline
// every command feeds from) and the feature cache on disk.
export {
  featureBatches, clipFeatureSize, isSkipped, mapItems, viewCacheKey, DEFAULT_WORKERS,
  type PipelineItem, type PipelineOptions, type ViewPlan, type FeatureBatch, type SkippedItem, type ClipSource, type FeatureStore,
} from './pipeline.js';
export { FeatureCache, stableJson, type CacheEntry, type CacheStats, type FeatureCacheOptions } from './cache.js';
export {
  DEFAULT_CACHE_MAX, evictCacheFolder, readCacheSettings, scanCacheFolder, type CacheContents, type Eviction,
} from './cache-folder.js';
