#!/usr/bin/env node
// The method's promise: a training step costs about one backbone forward pass, because the
// backbone is frozen and no gradient flows through it. Measured side by side in one run, decode
// excluded: (a) the frozen backbone's forward of a batch alone, and (b) a whole training step on
// the same batch: that forward, then the side network's forward, backward and AdamW update.
//
//   node scripts/bench-step.js [--backbone vit-ti16] [--batch 8] [--frames 8] [--runs 7]
//                              [--pools grid:2,grid:4,grid:4@8]
//
// `POOL@N` runs the side network on N clips per call (`losa train --side-batch N`); without it,
// on as many as fit the default activation budget, as `losa train` does.
// Needs `npm run build` (it imports dist/).
import { parseArgs } from 'node:util';
import os from 'node:os';
import { loadBackbone, resolveBackboneConfig } from '../dist/backbone/index.js';
import { AdamW, GradientAccumulator, createSideNetwork, defaultSideConfig, initTf } from '../dist/side/index.js';
import { accumulateGradients, applyAccumulated, sideClipsPerCall } from '../dist/train/index.js';

const { values } = parseArgs({
  options: {
    backbone: { type: 'string', default: 'vit-ti16' },
    batch: { type: 'string', default: '8' },
    frames: { type: 'string', default: '8' },
    runs: { type: 'string', default: '7' },
    pools: { type: 'string', default: 'grid:2,grid:4,grid:4@8' },
  },
});
const B = Number(values.batch);
const T = Number(values.frames);
const runs = Number(values.runs);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const config = await resolveBackboneConfig(values.backbone);
const { tf, backend } = await initTf('auto');
const S = config.imageSize;
// Random rgb24 frames, as training hands them over (the backbone normalises them itself); its
// cost does not depend on the pixels.
const frames = Uint8Array.from({ length: B * T * S * S * 3 }, (_, i) => (i * 2654435761) >>> 24); // [B·T, S, S, 3]
const labels = Array.from({ length: B }, (_, i) => i % 4);

console.log(`training step vs backbone forward · ${values.backbone} · batch ${B} × ${T} frames · tfjs ${backend} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}`);
console.log('pool     side params  clips/call  forward ms  step ms  (side ms)  step / forward');
for (const spec of values.pools.split(',')) {
  const [pool, sideBatch] = spec.split('@');
  const backbone = await loadBackbone({ config, pool, seed: 0 });
  const side = defaultSideConfig({ numFrames: T, numLayers: backbone.layers.length, tokens: backbone.tokens, width: backbone.width, numClasses: 4 });
  const net = createSideNetwork(side, 0);
  const optimizer = new AdamW({ weightDecay: 0.05 });
  const forwardTimes = [];
  const stepTimes = [];
  const sideTimes = [];
  // The training loop's own step: the batch's gradient in memory-bounded calls, then AdamW.
  const clipsPerCall = sideClipsPerCall(side, B, sideBatch ? Number(sideBatch) : undefined);
  const step = async () => {
    const features = await backbone.forward(frames, B * T); // [B·T, L, P, D] = [B, T, L, P, D]
    const perClip = features.length / B;
    const clips = Array.from({ length: B }, (_, i) => features.subarray(i * perClip, (i + 1) * perClip)); // B × [T, L, P, D]
    const started = performance.now();
    const accumulator = new GradientAccumulator();
    accumulateGradients(net, clips, labels, { clipsPerCall, smoothing: 0.1, accumulator });
    applyAccumulated(tf, accumulator, B, optimizer, net, 1e-3);
    accumulator.dispose();
    return performance.now() - started;
  };
  await backbone.forward(frames, B * T); // warm-up both paths
  await step();
  for (let i = 0; i < runs; i++) {
    // Alternate the two measurements so that drift in the machine's speed hits both alike.
    let t = performance.now();
    await backbone.forward(frames, B * T);
    forwardTimes.push(performance.now() - t);
    t = performance.now();
    sideTimes.push(await step());
    stepTimes.push(performance.now() - t);
  }
  const f = median(forwardTimes);
  const s = median(stepTimes);
  console.log(
    `${spec.padEnd(8)} ${String(net.paramCount()).padStart(11)}  ${String(clipsPerCall).padStart(10)}  ${f.toFixed(0).padStart(10)}  ${s.toFixed(0).padStart(7)}  ${median(sideTimes).toFixed(0).padStart(9)}  ${(s / f).toFixed(3).padStart(13)}×`,
  );
  net.dispose();
  optimizer.dispose();
  await backbone.dispose();
}
