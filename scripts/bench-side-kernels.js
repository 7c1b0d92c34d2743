#!/usr/bin/env node
// The side network's training step (the gradient of a batch in memory-bounded calls, then the
// AdamW update) on its two sets of kernels, alternated in one process on the wasm backend:
//   tfjs  one custom-gradient tfjs op per block (losa.ts, linear.ts): ~1,900 kernels per call
//   host  plain loops and WebAssembly SIMD products, one clip at a time (host.ts, kernels.wat)
// LOSA's default on the wasm and cpu backends is `host`.
//
//   node scripts/bench-side-kernels.js [--widths 384,768] [--rounds 9] [--batch 8] [--classes 400]
// Needs `npm run build`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    widths: { type: 'string', default: '384,768' }, // ViT-S/16, ViT-B/16
    rounds: { type: 'string', default: '9' },
    batch: { type: 'string', default: '8' },
    classes: { type: 'string', default: '400' },
  },
});
const side = await import(path.join(root, 'dist/side/index.js'));
const train = await import(path.join(root, 'dist/train/index.js'));
const { tf } = await side.initTf('wasm');
const [T, L, P, B, K] = [8, 12, 5, Number(values.batch), Number(values.classes)];
const rounds = Number(values.rounds);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`side-network training step, T = ${T}, L = ${L}, P = ${P}, K = ${K}, batch ${B}, wasm backend, median of ${rounds} alternated rounds`);
console.log('| D | clips per call | tfjs kernels | host kernels | tfjs / host |');
console.log('|---:|---:|---:|---:|---:|');
for (const D of values.widths.split(',').map(Number)) {
  const config = side.defaultSideConfig({ numFrames: T, numLayers: L, tokens: P, width: D, numClasses: K });
  const per = T * L * P * D;
  const clips = Array.from({ length: B }, (_, b) => Float32Array.from({ length: per }, (_, i) => Math.sin(0.37 * i + b)));
  const labels = Array.from({ length: B }, (_, b) => (b * 7) % K);
  const clipsPerCall = train.sideClipsPerCall(config, B);
  const times = { tfjs: [], host: [] };
  const nets = {};
  for (const kind of ['tfjs', 'host']) nets[kind] = { net: side.createSideNetwork(config, 1), opt: new side.AdamW({ weightDecay: 0.05 }) };
  let before = 0;
  for (let round = 0; round < rounds + 2; round++) {
    if (round === 2) before = tf.memory().numTensors; // after the warm-up rounds made AdamW's state
    for (const kind of round % 2 ? ['tfjs', 'host'] : ['host', 'tfjs']) {
      side.setSideKernels(kind);
      const { net, opt } = nets[kind];
      const started = performance.now();
      const accumulator = new side.GradientAccumulator();
      train.accumulateGradients(net, clips, labels, { clipsPerCall, smoothing: 0.1, accumulator });
      train.applyAccumulated(tf, accumulator, B, opt, net, 1e-3);
      accumulator.dispose();
      if (round >= 2) times[kind].push(performance.now() - started); // two warm-up rounds
    }
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`the training step leaked ${leaked} tensors`);
  const [a, b] = [median(times.tfjs), median(times.host)];
  console.log(`| ${D} | ${clipsPerCall} | ${a.toFixed(0)} ms | ${b.toFixed(0)} ms | **${(a / b).toFixed(2)}×** |`);
  for (const { net, opt } of Object.values(nets)) { net.dispose(); opt.dispose(); }
}
side.setSideKernels('auto');
