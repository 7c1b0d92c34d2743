#!/usr/bin/env node
// Backbone throughput: frames/s and achieved GFLOP/s of ViT-Ti/16, S/16 and B/16 on
// onnxruntime (CPU), each measured side by side with one large matmul on the same engine in
// the same run. The ratio says how close the whole graph comes to the engine's ceiling.
//
//   node scripts/bench-backbone.js [--models vit-ti16,vit-s16,vit-b16] [--frames 8] [--runs 5]
//                                  [--flavours fused,plain] [--threads N] [--json]
//
// Needs the compiled library: `npm run build` first.
import os from 'node:os';
import { parseArgs } from 'node:util';
import onnxProto from 'onnx-proto';
import { flopsPerFrame, loadBackbone, loadOrt, resolveBackboneConfig } from '../dist/backbone/index.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'vit-ti16,vit-s16,vit-b16' },
    frames: { type: 'string', default: '8' },
    runs: { type: 'string', default: '5' },
    flavours: { type: 'string', default: 'fused' },
    threads: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const frames = Number(values.frames);
const runs = Number(values.runs);
const threads = values.threads ? Number(values.threads) : os.availableParallelism();
const ort = await loadOrt();
const { onnx } = onnxProto;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One MatMul [M,K]·[K,N] session: ViT-B/16's MLP up-projection for 8 frames (7.4 GFLOP). */
async function matmulCeiling() {
  const M = 1576, K = 768, N = 3072;
  const w = new Float32Array(K * N).map((_, i) => Math.sin(i) * 0.02);
  const model = onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'matmul',
      node: [{ opType: 'MatMul', input: ['a', 'w'], output: ['y'] }],
      initializer: [{ name: 'w', dims: [K, N], dataType: 1, rawData: new Uint8Array(w.buffer) }],
      input: [{ name: 'a', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: M }, { dimValue: K }] } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: M }, { dimValue: N }] } } } }],
    },
  })).finish();
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  const a = new ort.Tensor('float32', new Float32Array(M * K).map((_, i) => Math.cos(i)), [M, K]);
  const flop = 2 * M * K * N;
  await session.run({ a }); // warm-up
  return {
    /** One timed run; returns milliseconds. */
    async time() {
      const t = performance.now();
      await session.run({ a });
      return performance.now() - t;
    },
    flop,
    release: () => session.release(),
  };
}

const rows = [];
const matmul = await matmulCeiling();
for (const name of values.models.split(',')) {
  const config = await resolveBackboneConfig(name);
  for (const flavour of values.flavours.split(',')) {
    const bb = await loadBackbone({ config, flavour, chunk: frames, threads });
    const S = config.imageSize;
    const input = new Float32Array(frames * 3 * S * S).map((_, i) => Math.sin(i * 0.001));
    await bb.forward(input, frames); // warm-up
    // Alternate the two, so that both see the same machine (other work, clock changes).
    const times = [], matmulTimes = [];
    for (let r = 0; r < runs; r++) {
      matmulTimes.push(await matmul.time());
      const t = performance.now();
      await bb.forward(input, frames);
      times.push(performance.now() - t);
    }
    await bb.dispose();
    const ms = median(times);
    const gflops = (flopsPerFrame(config) * frames) / ms / 1e6;
    const ceiling = matmul.flop / median(matmulTimes) / 1e6;
    rows.push({
      model: name, flavour, frames, msPerRun: ms, framesPerSecond: (frames * 1000) / ms,
      gflopsPerSecond: gflops, matmulGflopsPerSecond: ceiling, ratio: gflops / ceiling,
    });
  }
}
await matmul.release();

if (values.json) {
  console.log(JSON.stringify({ threads, cpu: os.cpus()[0]?.model, rows }, null, 2));
} else {
  console.log(`onnxruntime-node CPU, ${threads} threads, ${os.cpus()[0]?.model ?? 'cpu'}; ${frames} frames per run, median of ${runs}; pool grid:2, all layers, random weights`);
  const head = ['model', 'graph', 'ms/run', 'frames/s', 'GFLOP/s', 'matmul GFLOP/s', 'ratio'];
  const body = rows.map((r) => [r.model, r.flavour, r.msPerRun.toFixed(0), r.framesPerSecond.toFixed(1), r.gflopsPerSecond.toFixed(0), r.matmulGflopsPerSecond.toFixed(0), `${(r.ratio * 100).toFixed(0)}%`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  for (const line of [head, ...body]) console.log(line.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  console.log('matmul: one MatMul [1576×768]·[768×3072] (7.4 GFLOP, ViT-B/16\'s MLP for 8 frames), timed alternately with the model runs.');
}
