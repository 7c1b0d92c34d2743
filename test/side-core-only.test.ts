// Training loads tfjs-core alone (src/side/tf.ts), not the '@tensorflow/tfjs' union bundle: its
// layers, converter, data and webgl parts cost memory the side network never uses, and its Node
// build is also where tfjs registers the gradients of its ops. So a training step must need no
// registered gradient (the side network's ops carry their own). These tests' own process has the
// union loaded (the test files import it), which registers them all; this test therefore runs the
// step in a fresh Node process on the built code (dist/, built by `npm test`) and compares. Both
// run the tfjs kernels: the host kernels (the default on a CPU) use no tfjs op in the step.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { computeGradients, createSideNetwork, defaultSideConfig, initTf, setSideKernels, type SideKind } from '../src/side/index.js';
import { requireBuild } from './cli-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KINDS: SideKind[] = ['losa', 'linear'];
const SHAPE = { numFrames: 3, numLayers: 2, tokens: 2, width: 6, numClasses: 3 };
const LABELS = [2, 0];

/** Per side kind: the loss and every parameter's gradient, by name. */
type Steps = Record<string, Record<string, number | number[]>>;

// The same step in both processes: data from a formula, weights from the seed.
const STEP = `
const cfg = (kind) => side.defaultSideConfig(${JSON.stringify(SHAPE)}, { kind, rank: 2, temporalRank: 2, spatialRank: 2 });
const data = Float32Array.from({ length: ${LABELS.length} * 3 * 2 * 2 * 6 }, (_, i) => Math.sin(0.7 * i));
const step = (kind) => {
  const net = side.createSideNetwork(cfg(kind), 5);
  const y = tf.tensor1d(${JSON.stringify(LABELS)}, 'int32');
  const r = side.computeGradients(net, data, y, 0.1);
  const grads = Object.fromEntries([...r.grads].map(([k, g]) => [k, Array.from(g.dataSync())]));
  tf.dispose([y, ...r.grads.values()]);
  net.dispose();
  return { loss: r.loss, ...grads };
};`;

function childStep(): { grads: Steps; loaded: string[] } {
  const script = `
import { createRequire } from 'node:module';
const side = await import(${JSON.stringify(pathToFileURL(path.join(root, 'dist', 'side', 'index.js')).href)});
const { tf } = await side.initTf('cpu');
side.setSideKernels('tfjs');
${STEP}
const grads = Object.fromEntries(${JSON.stringify(KINDS)}.map((kind) => [kind, step(kind)]));
const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('@tensorflow'));
console.log(JSON.stringify({ grads, loaded }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child step failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { grads: Steps; loaded: string[] };
}

beforeAll(async () => {
  requireBuild();
  await initTf('cpu');
});

describe('training on tfjs-core alone', () => {
  it('computes the same gradients in a process without the union bundle, which it never loads', () => {
    const child = childStep();
    const packages = new Set(child.loaded.map((k) => /@tensorflow\/([^/]+)\//.exec(k)?.[1]));
    expect(packages.has('tfjs-core')).toBe(true);
    for (const absent of ['tfjs', 'tfjs-layers', 'tfjs-converter', 'tfjs-data', 'tfjs-backend-webgl']) expect(packages.has(absent), absent).toBe(false);

    setSideKernels('tfjs');
    const here = new Function('side', 'tf', `${STEP}\nreturn Object.fromEntries(${JSON.stringify(KINDS)}.map((kind) => [kind, step(kind)]));`)(
      { defaultSideConfig, createSideNetwork, computeGradients }, tf,
    ) as Steps;
    setSideKernels('auto');
    for (const kind of KINDS) {
      const names = Object.keys(here[kind]!);
      expect(Object.keys(child.grads[kind]!).sort()).toEqual(names.sort());
      for (const name of names) expect(child.grads[kind]![name], `${kind} ${name}`).toEqual(here[kind]![name]);
    }
  });
});
