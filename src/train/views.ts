// Which clip of a video training sees, defined once: `losa train` samples through here, and
// `losa frames --mode train` shows the same frames and crops. With the feature cache, epoch e
// uses augmented view e mod N of every video (N = --cache-views), so the cache holds N views;
// without it, every epoch draws a view of its own (view e). A video's draws are seeded with its
// name (viewName), not its absolute path, so the views, and with them the feature cache's keys,
// are the same wherever the data set is mounted.
import path from 'node:path';
import type { ViewPlan } from '../features/index.js';
import type { RunSampling } from '../model/index.js';
import type { TrainOptions } from './options.js';

/** What a training view depends on: the run's sampling (its manifest's) and its seed. */
export type TrainingSampling = RunSampling & Pick<TrainOptions, 'seed'>;

/** The view epoch `epoch` (from 0) uses: e mod N with a cache of N views, else e. */
export function trainingView(epoch: number, cacheViews: number | undefined): number {
  return cacheViews === undefined ? epoch : epoch % cacheViews;
}

/**
 * The name a video's random draws are seeded with: its folder's and its own ("<class>/<clip>"
 * in the folder and Kinetics layouts). Two videos with the same name in folders of the same
 * name draw alike, which only correlates their augmentations; the cache tells them apart by
 * content.
 */
export function viewName(file: string): string {
  return `${path.basename(path.dirname(file))}/${path.basename(file)}`;
}

/** The random clip of `file` in training view `view`: temporal sampling, resized crop, flip. */
export function trainingPlan(s: TrainingSampling, file: string, view: number): ViewPlan {
  return {
    clip: {
      numFrames: s.numFrames, size: s.size, mode: 'train', sampling: s.sampling, stride: s.stride, flip: s.flip, scale: s.scale, ratio: s.ratio,
    },
    seed: `${s.seed}/view/${view}/${viewName(file)}`,
  };
}

/** How the run samples its clips (its manifest's `sampling`); `losa extract` plans the cache with it too. */
export function runSampling(
  opts: Pick<TrainOptions, 'numFrames' | 'sampling' | 'stride' | 'flip' | 'scale' | 'ratio'>, imageSize: number,
): RunSampling {
  return { numFrames: opts.numFrames, size: imageSize, sampling: opts.sampling, stride: opts.stride, flip: opts.flip, scale: opts.scale, ratio: opts.ratio };
}
