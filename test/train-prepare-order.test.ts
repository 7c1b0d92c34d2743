// The order of a training run's preparation, with loadBackbone wrapped to see its calls: the
// TensorFlow.js backend is checked before the backbone loads (a large one takes minutes and
// gigabytes), and a backbone that loaded is disposed when a later step of the preparation fails.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as backbones from '../src/backbone/index.js';
import { TRAIN_DEFAULTS, prepareRun, train, type TrainOptions } from '../src/train/index.js';
import { tinySetup } from './train-helpers.js';

vi.mock('../src/backbone/index.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/backbone/index.js')>();
  return { ...actual, loadBackbone: vi.fn(actual.loadBackbone) };
});

let dir: string;
let data: string;
let backbone: string;
const loadBackbone = vi.mocked(backbones.loadBackbone);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-prepare-'));
  ({ data, backbone } = await tinySetup(dir, 51, 1));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const options = (out: string, over: Partial<TrainOptions> = {}): TrainOptions => ({
  ...TRAIN_DEFAULTS, data, out: path.join(dir, out), backbone, numFrames: 4, epochs: 1, batchSize: 2, cache: undefined, ...over,
});

describe('preparing a run', () => {
  it('checks the TensorFlow.js backend before it loads the backbone', async () => {
    loadBackbone.mockClear();
    // tfjs-node cannot be installed here: asking for its backend fails.
    await expect(prepareRun(options('no-tf', { tfBackend: 'tensorflow' }), () => {})).rejects.toThrow(/TensorFlow\.js backend "tensorflow" is not available/);
    expect(loadBackbone).not.toHaveBeenCalled();
  });

  it('disposes the backbone when a later step fails', async () => {
    await train(options('first'), () => {});
    const disposed = vi.fn();
    loadBackbone.mockImplementationOnce(async (o) => {
      const b = await vi.importActual<typeof import('../src/backbone/index.js')>('../src/backbone/index.js').then((m) => m.loadBackbone(o));
      const dispose = b.dispose.bind(b);
      return { ...b, dispose: async () => { disposed(); await dispose(); } };
    });
    // Resumed with another backbone: refused after the backbone loaded.
    await expect(prepareRun(options('first', { resume: true, backboneSeed: 9 }), () => {})).rejects.toThrow(/differs from the one this run was trained with/);
    expect(disposed).toHaveBeenCalledTimes(1);
  });
});
