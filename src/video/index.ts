// Public API of src/video/: which ffmpeg, probe, sampling (pure), the frame table and seeking,
// decode (ffmpeg.ts is the only place ffmpeg runs on media; images go through sharp), clips
// and their streaming in chunks, bounded prefetch and the synthetic data set renderer.
export {
  ffmpegBinaries, ffmpegPath, ffprobePath, resetFfmpegPaths, ffmpegInput, lastErrorLine, startFfmpeg, runFfmpeg, readFfmpeg,
  type FfmpegProcess, type ProcessResult,
} from './ffmpeg.js';
export { chooseBinaries, describeBinaries, parseVersion, MIN_SYSTEM_MAJOR, type ChosenBinary, type ToolVersion, type BinarySource } from './ffmpeg-choice.js';
export { resolveBinaries, ffmpegSummary, decoderLabel } from './ffmpeg-binaries.js';
export {
  probeVideo, statMedia, isImagePath, isMediaPath, imageInputOptions, IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, type VideoInfo,
} from './probe.js';
export {
  sampleSegments, sampleWindow, sampleTestViews, sampleFrameIndices, windowIndices, resolveStride, frameTimestamps,
  scaledSize, testCrops, trainCrop, DEFAULT_CROP_SCALE, DEFAULT_CROP_RATIO, DEFAULT_NUM_FRAMES, DEFAULT_IMAGE_SIZE,
  DEFAULT_SAMPLING, DEFAULT_STRIDE, DEFAULT_VIEWS, DEFAULT_CROPS,
  type Stride, type TemporalOptions, type CropBox,
} from './sampling.js';
export { planSegments, keyframeBefore, seekSeconds, type FrameTable, type Segment } from './frame-table.js';
export {
  decodeFrames, decodeFrameStream, decodeArgs, segmentArgs, segmentThreads, selectExpression, rotationFilters,
  type DecodeOptions, type DecodedFrames, type DecodedFrame, type DecodeReport,
} from './decode.js';
export { IMAGE_BACKGROUND, MAX_IMAGE_PIXELS, encodePng, sniffImage } from './image.js';
export { loadClips, cropFrame, flipFramesHorizontally, type Clip, type ClipOptions } from './clip.js';
export { openClips, type ClipStream, type ClipLayout, type FrameChunk } from './stream.js';
export { prefetch, type PrefetchOptions, type PrefetchResult } from './prefetch.js';
export {
  synthDataset, writeVideo, clipFrames, renderClipFrames, renderScene, sceneParams, clipParams, synthPartner, synthMotion,
  SYNTH_CLASSES, SYNTH_DEFAULTS, H264_ARGS,
  type SynthClass, type SynthMotion, type SceneParams, type SynthOptions, type SynthSummary, type WriteVideoOptions,
} from './synth.js';
