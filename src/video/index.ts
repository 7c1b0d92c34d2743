// Public API of src/video/: probe, sampling (pure), decode (the only place ffmpeg runs),
// clips, bounded prefetch and the synthetic data set renderer.
export {
  ffmpegPath, ffprobePath, resetFfmpegPaths, ffmpegInput, lastErrorLine, startFfmpeg, runFfmpeg, runFfprobe,
  type ProcessResult,
} from './ffmpeg.js';
export {
  probeVideo, statMedia, isImagePath, isMediaPath, imageInputOptions, IMAGE_EXTENSIONS, VIDEO_EXTENSIONS,
  COUNT_PACKETS_MAX_BYTES, type VideoInfo,
} from './probe.js';
export {
  sampleSegments, sampleWindow, sampleTestViews, sampleFrameIndices, windowIndices, resolveStride, frameTimestamps,
  scaledSize, testCrops, trainCrop, DEFAULT_CROP_SCALE, DEFAULT_CROP_RATIO, DEFAULT_NUM_FRAMES, DEFAULT_IMAGE_SIZE,
  DEFAULT_SAMPLING, DEFAULT_STRIDE, DEFAULT_VIEWS, DEFAULT_CROPS,
  type Stride, type TemporalOptions, type CropBox,
} from './sampling.js';
export { decodeFrames, decodeArgs, selectExpression, rotationFilters, type DecodeOptions, type DecodedFrames } from './decode.js';
export { loadClips, cropFrame, flipFramesHorizontally, type Clip, type ClipOptions } from './clip.js';
export { prefetch, type PrefetchOptions, type PrefetchResult } from './prefetch.js';
export {
  synthDataset, writeVideo, clipFrames, renderClipFrames, renderScene, sceneParams, clipParams, synthPartner, synthMotion,
  SYNTH_CLASSES, SYNTH_DEFAULTS, H264_ARGS,
  type SynthClass, type SynthMotion, type SceneParams, type SynthOptions, type SynthSummary, type WriteVideoOptions,
} from './synth.js';
