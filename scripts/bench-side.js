#!/usr/bin/env node
// Side-network training cost: one step (forward + backward + AdamW update) of the LoSA side
// network on TensorFlow.js, for the features of ViT-Ti/16 (D = 192) and ViT-B/16 (D = 768)
// with all 12 layers tapped, 8 frames per clip, pooling grid:2 (P = 5), 4 classes. Each is
// measured side by side with the frozen backbone's forward of the same batch on onnxruntime
// in the same run, so the last column is the method's promise: a training step costs about
// one backbone forward (the bar: at most 1.15×).
//
//   node scripts/bench-side.js [--models vit-ti16,vit-b16] [--batch 8] [--runs 7]
//                              [--backends wasm,cpu] [--activations gelu,quick-gelu]
//                              [--no-backbone] [--json]
//
// The cpu backend (plain JavaScript) is measured with the first activation only.
//
// Needs the compiled library: `npm run build` first.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadBackbone, resolveBackboneConfig } from '../dist/backbone/index.js';
import {
  AdamW, computeGradients, createSideNetwork, defaultSideConfig, initTf, sideParamCount,
} from '../dist/side/index.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'vit-ti16,vit-b16' },
    batch: { type: 'string', default: '8' },
    runs: { type: 'string', default: '7' },
    backends: { type: 'string', default: 'wasm,cpu' },
    activations: { type: 'string', default: 'gelu,quick-gelu' },
    'no-backbone': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const B = Number(values.batch);
const runs = Number(values.runs);
const T = 8, P = 5, K = 4;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeBackbone(config) {
  const bb = await loadBackbone({ config, chunk: T });
  const S = config.imageSize;
  const frames = new Float32Array(B * T * 3 * S * S).map((_, i) => Math.sin(i * 0.001));
  await bb.forward(frames, B * T); // warm-up
  const times = [];
  for (let r = 0; r < Math.max(3, Math.ceil(runs / 2)); r++) {
    const t = performance.now();
    await bb.forward(frames, B * T);
    times.push(performance.now() - t);
  }
  await bb.dispose();
  return median(times);
}

/** Median ms of a training step and of an inference forward, on the current tfjs backend. */
function timeSide(tf, config, backend) {
  const net = createSideNetwork(config, 1);
  const opt = new AdamW({ weightDecay: 0.05 });
  const features = new Float32Array(B * T * config.numLayers * P * config.width).map((_, i) => Math.sin(i * 0.37));
  const labels = tf.tensor1d(Array.from({ length: B }, (_, i) => i % K), 'int32');
  const step = () => {
    const r = computeGradients(net, features, labels, 0.1);
    opt.apply(net.variables, r.grads, 1e-3, net.decayMask);
    for (const g of r.grads.values()) g.dispose();
  };
  // The cpu backend takes seconds per step at D = 768: fewer runs there.
  const n = backend === 'cpu' ? Math.min(runs, config.width > 256 ? 2 : 3) : runs;
  step();
  step();
  const steps = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    step();
    steps.push(performance.now() - t);
  }
  const forwards = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    net.apply(features).dispose();
    forwards.push(performance.now() - t);
  }
  const tensorsLeft = tf.memory().numTensors;
  labels.dispose();
  opt.dispose();
  net.dispose();
  return { stepMs: median(steps), forwardMs: median(forwards), tensorsLeft };
}

const rows = [];
for (const name of values.models.split(',')) {
  const bbConfig = await resolveBackboneConfig(name);
  const backboneMs = values['no-backbone'] ? undefined : await timeBackbone(bbConfig);
  for (const wanted of values.backends.split(',')) {
    const { tf, backend } = await initTf(wanted);
    const activations = values.activations.split(',');
    for (const activation of backend === 'cpu' ? activations.slice(0, 1) : activations) {
      const config = defaultSideConfig(
        { numFrames: T, numLayers: bbConfig.depth, tokens: P, width: bbConfig.width, numClasses: K }, { activation },
      );
      const side = timeSide(tf, config, backend);
      rows.push({
        model: name, width: config.width, layers: config.numLayers, batch: B, backend, activation, params: sideParamCount(config),
        sideStepMs: side.stepMs, sideForwardMs: side.forwardMs, backboneMs,
        stepOverBackbone: backboneMs === undefined ? undefined : (backboneMs + side.stepMs) / backboneMs,
      });
    }
  }
}

if (values.json) {
  console.log(JSON.stringify({ cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), rows }, null, 2));
} else {
  console.log(`LoSA side network, B=${B} clips × T=${T} frames, P=${P}, K=${K}, r=16, r_t=r_s=4; median of ${runs} (cpu: fewer); ${os.availableParallelism()} cores, ${os.cpus()[0]?.model ?? 'cpu'}`);
  const head = ['features', 'tfjs', 'activation', 'params', 'side step ms', 'side fwd ms', 'backbone fwd ms', '(backbone+step)/backbone'];
  const body = rows.map((r) => [
    `${r.model} D=${r.width} L=${r.layers}`, r.backend, r.activation, String(r.params), r.sideStepMs.toFixed(1), r.sideForwardMs.toFixed(1),
    r.backboneMs === undefined ? '-' : r.backboneMs.toFixed(0), r.stepOverBackbone === undefined ? '-' : `${r.stepOverBackbone.toFixed(3)}×`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  for (const line of [head, ...body]) console.log(line.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  console.log('side step: forward + backward + AdamW on features given as a Float32Array; backbone: onnxruntime CPU forward of the same B×T frames, random weights.');
}
