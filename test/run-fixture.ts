// A tiny trained run for the tests of inference: a synthetic data set (two time-reversed
// classes), a small backbone config, and a side network trained for two epochs on it. The run
// deliberately uses a test view other than the defaults (stride 2, 48 px), so that code which
// ignores the run's view gives different frames.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TRAIN_DEFAULTS, train, type TrainOptions } from '../src/train/index.js';
import { synthDataset } from '../src/video/synth.js';

export interface RunFixture {
  dir: string;
  data: string;
  backbone: string;
  run: string;
  /** Two validation clips and a file that is not a video. */
  clips: string[];
  broken: string;
}

export const FIXTURE_TRAINING: Partial<TrainOptions> = {
  numFrames: 4, epochs: 2, batchSize: 2, imageSize: 48, stride: 2, lr: 1e-2, cacheViews: 1,
};

export async function makeRunFixture(prefix: string, over: Partial<TrainOptions> = {}): Promise<RunFixture> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const data = path.join(dir, 'data');
  await synthDataset(data, { classes: 2, trainPerClass: 3, valPerClass: 1, seconds: 1, width: 64, height: 48, fps: 10, seed: 5, concurrency: 2 });
  const backbone = path.join(dir, 'tiny.json');
  await fs.writeFile(backbone, JSON.stringify({
    name: 'tiny', imageSize: 32, patchSize: 8, width: 16, depth: 2, heads: 2, mlpDim: 32, classToken: true,
    layerNormEps: 1e-6, gelu: 'tanh', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25],
  }));
  const run = path.join(dir, 'run');
  await train({ ...TRAIN_DEFAULTS, ...FIXTURE_TRAINING, data, out: run, backbone, cache: path.join(dir, 'cache'), ...over }, () => {});
  const clips = ['moving-left', 'moving-right'].map((c) => path.join(data, 'val', c, `${c}-0000.mp4`));
  const broken = path.join(dir, 'broken.mp4');
  await fs.writeFile(broken, 'not a video');
  return { dir, data, backbone, run, clips, broken };
}
