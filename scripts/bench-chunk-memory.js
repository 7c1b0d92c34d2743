#!/usr/bin/env node
// Peak memory depends on the chunk, not on the clip length: clips of T = 8 and T = 64 frames
// through the same backbone at the same chunk C, each in its own child process, whose peak RSS
// (VmHWM from /proc/self/status) is read at the end. Also a few chunk sizes at T = 64, to set
// the measured memory per frame beside `losa info`'s estimate.
//
//   node scripts/bench-chunk-memory.js [--model vit-b16] [--chunk 8] [--frames 8,64]
//                                      [--chunks 1,8,32] [--json]
//
// Needs the compiled library: `npm run build` first. Linux only (reads /proc).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { activationBytesPerFrame, loadBackbone, peakBytesForChunk, resolveBackboneConfig } from '../dist/backbone/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'vit-b16' },
    chunk: { type: 'string', default: '8' },
    frames: { type: 'string', default: '8,64' },
    chunks: { type: 'string', default: '1,8,32' },
    json: { type: 'boolean', default: false },
    child: { type: 'boolean', default: false },
    t: { type: 'string' },
    c: { type: 'string' },
  },
});

const status = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;

if (values.child) {
  // One measurement: load, run T frames at chunk C, report peak RSS.
  const T = Number(values.t), C = Number(values.c);
  const config = await resolveBackboneConfig(values.model);
  const bb = await loadBackbone({ config, chunk: C });
  const afterLoad = status('VmHWM');
  const S = config.imageSize;
  const frames = new Float32Array(T * 3 * S * S); // [T, 3, S, S]
  for (let i = 0; i < frames.length; i++) frames[i] = Math.sin(i * 0.001);
  const t0 = performance.now();
  const out = await bb.forward(frames, T);
  const seconds = (performance.now() - t0) / 1000;
  await bb.dispose();
  process.stdout.write(JSON.stringify({ T, C, afterLoad, peak: status('VmHWM'), seconds, outBytes: out.byteLength, inBytes: frames.byteLength }) + '\n');
  process.exit(0);
}

const script = fileURLToPath(import.meta.url);
function measure(T, C) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, '--child', '--model', values.model, '--t', String(T), '--c', String(C)], { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`child T=${T} C=${C} failed: ${stderr.trim().split('\n').pop()}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()));
    });
  });
}

const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const config = await resolveBackboneConfig(values.model);
const C = Number(values.chunk);
const clipRuns = [];
for (const T of values.frames.split(',').map(Number)) clipRuns.push(await measure(T, C));
const chunkRuns = [];
for (const c of values.chunks.split(',').map(Number)) chunkRuns.push(await measure(64, c));
const first = chunkRuns[0], last = chunkRuns[chunkRuns.length - 1];
const measuredPerFrame = (last.peak - first.peak) / (last.C - first.C);
const spread = Math.max(...clipRuns.map((r) => r.peak)) / Math.min(...clipRuns.map((r) => r.peak)) - 1;

if (values.json) {
  console.log(JSON.stringify({ model: values.model, chunk: C, clipRuns, chunkRuns, measuredPerFrame, estimatedPerFrame: activationBytesPerFrame(config), spread }, null, 2));
} else {
  console.log(`${values.model}, random weights, pool grid:2, all layers; each row a fresh process; peak = VmHWM`);
  console.log('');
  console.log(`Same chunk (C = ${C}), different clip lengths:`);
  console.log('    T   C  peak after load  peak after forward  input frames  s/frame');
  for (const r of clipRuns) console.log(`${String(r.T).padStart(5)} ${String(r.C).padStart(3)}  ${mib(r.afterLoad).padStart(15)}  ${mib(r.peak).padStart(18)}  ${mib(r.inBytes).padStart(12)}  ${(r.seconds / r.T).toFixed(3).padStart(7)}`);
  console.log(`peak spread between clip lengths: ${(spread * 100).toFixed(1)}% (target: within 15%)`);
  console.log('');
  console.log('Same clip (T = 64), different chunks:');
  console.log('    C  peak after forward  losa info estimate');
  for (const r of chunkRuns) console.log(`${String(r.C).padStart(5)}  ${mib(r.peak).padStart(18)}  ${mib(peakBytesForChunk(config, r.C)).padStart(18)}`);
  console.log(`memory per frame of chunk: measured ${mib(measuredPerFrame)}, estimated ${mib(activationBytesPerFrame(config))}`);
}
