// The model object (loadModel) against the CLI and against decoded clips: `losa classify` and
// loadModel(run).classify give the same probabilities on the same files; results come in input
// order with failures in place; arrays, async iterables and rgb24 clips are all inputs; and
// `losa features --checkpoint` writes exactly what the run's side network is fed.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { makeRunFixture, type RunFixture } from './run-fixture.js';
import { loadModel, readRunManifest, readSideWeights, runWeightsFile, softmax, type Failure, type LosaModel, type Prediction } from '../src/model/index.js';
import { createRng } from '../src/random.js';
import { readSafetensorsFloat32 } from '../src/safetensors.js';
import { createSideNetwork, initTf, setSideWeights } from '../src/side/index.js';
import { loadClips } from '../src/video/clip.js';

let f: RunFixture;
let model: LosaModel;

beforeAll(async () => {
  f = await makeRunFixture('losa-model-');
  model = await loadModel(f.run);
});
afterAll(async () => {
  await model?.dispose();
  if (f) await fs.rm(f.dir, { recursive: true, force: true });
});

/** The prediction, or the test fails with the input's error. */
function ok<I>(r: Prediction<I> | Failure<I> | undefined): Prediction<I> {
  if (!r || r.error !== undefined) throw new Error(r ? r.error : 'no result');
  return r;
}

const collect = async <T>(results: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const r of results) out.push(r);
  return out;
};

describe('loadModel', () => {
  it('gives the probabilities `losa classify` prints, on the same files, failures in place', async () => {
    const inputs = [f.clips[0]!, f.broken, f.clips[1]!, f.clips[0]!];
    const cli = await runCli(['classify', ...inputs, '--checkpoint', f.run, '--top', '2', '--json'], f.dir);
    expect(cli.status).toBe(1);
    const lines = cli.stdout.trim().split('\n').map((l) => JSON.parse(l) as { input: string; top?: { label: string; probability: number }[]; error?: string });
    const results = await collect(model.classify(inputs, { top: 2 }));
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3]);
    expect(results.map((r) => r.input)).toEqual(inputs);
    expect(lines.map((l) => l.input)).toEqual(inputs);
    expect(results[1]!.error).toContain('broken.mp4');
    expect(lines[1]!.error).toContain('broken.mp4');
    for (const i of [0, 2, 3]) {
      const r = results[i]!;
      if (r.error !== undefined) throw new Error(r.error);
      expect(lines[i]!.top).toEqual(r.top);
      expect(r.top.map((t) => t.probability)).toEqual([...r.probabilities].sort((a, b) => b - a));
      expect(r.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
    expect(model.classes).toEqual(['moving-left', 'moving-right']);
  });

  it('takes async iterables and decoded rgb24 clips, and preprocesses them itself', async () => {
    async function* lazily(): AsyncGenerator<string> {
      yield f.clips[1]!;
      yield f.clips[0]!;
    }
    const fromFiles = await collect(model.predict(lazily()));
    const fromArray = await collect(model.predict([f.clips[1]!, f.clips[0]!]));
    expect(fromFiles.map((r) => r.probabilities)).toEqual(fromArray.map((r) => r.probabilities));
    // The run samples 4 frames at 48 px, 2 frames apart: decode that clip by hand, hand over bytes.
    const { clips } = await loadClips(f.clips[1]!, { numFrames: 4, size: 48, mode: 'test', stride: 2 }, createRng(0));
    expect([model.numFrames, model.imageSize]).toEqual([4, 48]);
    const [fromBytes] = await collect(model.predict([{ frames: clips[0]!.frames, name: 'decoded' }]));
    const [fromFile] = await collect(model.predict([f.clips[1]!]));
    expect(ok(fromBytes).views).toBe(1);
    const a = ok(fromBytes).probabilities;
    const b = ok(fromFile).probabilities;
    for (let k = 0; k < a.length; k++) expect(a[k]).toBeCloseTo(b[k]!, 6);
  });

  it('averages V views × C crops, reports a misshapen clip as a failure, and leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    const [multi, bad] = await collect(model.predict([f.clips[0]!, { frames: new Uint8Array(10), name: 'short' }], { views: 2, crops: 3 }));
    expect(ok(multi).views).toBe(6);
    expect(bad!.error).toMatch(/^short: expected rgb24 frames of 4×48×48×3 bytes/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports progress with the total of an array', async () => {
    const seen: string[] = [];
    await collect(model.predict([f.clips[0]!, f.broken, f.clips[1]!], { onProgress: (done, total) => seen.push(`${done}/${total}`) }));
    expect(seen).toEqual(['1/3', '2/3', '3/3']);
  });

  it('refuses a run directory whose manifest is damaged, in one line naming the file', async () => {
    const bad = path.join(f.dir, 'bad-run');
    await fs.mkdir(bad, { recursive: true });
    const manifest = JSON.parse(await fs.readFile(path.join(f.run, 'run.json'), 'utf8'));
    await fs.writeFile(path.join(bad, 'run.json'), JSON.stringify({ ...manifest, sampling: { ...manifest.sampling, numFrames: 0 } }));
    await expect(loadModel(bad)).rejects.toThrow(new RegExp(`^${bad.replace(/[/.]/g, '\\$&')}/run\\.json: \`sampling\` lacks numFrames`));
  });
});

describe('losa features --checkpoint', () => {
  it("writes the run's test-time features: its side network on them gives classify's probabilities", async () => {
    const out = path.join(f.dir, 'clip.safetensors');
    const r = await runCli(['features', f.clips[0]!, '--checkpoint', f.run, '--out', out], f.dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { tensors, metadata } = await readSafetensorsFloat32(out);
    const features = tensors.get('features')!;
    expect(features.shape).toEqual([4, 2, 5, 16]);
    expect(metadata).toMatchObject({ stride: '2', image_size: '48', run: f.run });
    // 10 frames, 4 of them 2 apart, centred: the window starts at floor((10 − 7) / 2) = 1.
    expect(JSON.parse(metadata.indices!)).toEqual([1, 3, 5, 7]);

    await initTf();
    const manifest = await readRunManifest(f.run);
    const net = createSideNetwork(manifest.side, 0);
    try {
      setSideWeights(net, await readSideWeights(await runWeightsFile(f.run)));
      const logits = net.apply(features.data); // [1, K]
      const probabilities = softmax(logits.dataSync());
      logits.dispose();
      const [classified] = await collect(model.predict([f.clips[0]!]));
      for (let k = 0; k < probabilities.length; k++) expect(probabilities[k]).toBeCloseTo(classified!.probabilities![k]!, 6);
    } finally {
      net.dispose();
    }
  });

  it('refuses what the run fixes, in one line', async () => {
    const r = await runCli(['features', f.clips[0]!, '--checkpoint', f.run, '--stride', '1', '--out', 'x.safetensors'], f.dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('losa: error: --stride comes from the run with --checkpoint; leave it out\n');
  });
});
