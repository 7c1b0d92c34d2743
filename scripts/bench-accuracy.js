#!/usr/bin/env node
// What the side network must show: on `losa data synth` data (4 classes in time-reversed pairs),
// LoSA on the seeded random ViT-Ti reaches ≥ 95% validation top-1, while the linear probe
// (`--side linear`: frame- and token-averaged features of the last layer) on the same features
// stays near chance within each pair. Both are trained in this run, with the demo's settings;
// the probe reuses LoSA's feature cache, so the features are the same.
//
//   node scripts/bench-accuracy.js [--data video/demo]
// Needs `npm run build`; makes the data set if it is missing.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { demoData, ensureSynthData, losa } from './losa-cli.js';

const { values } = parseArgs({ options: { data: { type: 'string', default: demoData } } });
ensureSynthData(values.data);
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bench-accuracy-'));
const settings = ['--pool', 'grid:4', '--image-size', '112', '--side-batch', '8', '--cache', path.join(dir, 'cache'), '--no-tui'];

const results = [];
for (const side of ['losa', 'linear']) {
  const run = path.join(dir, side);
  const started = performance.now();
  losa('train', '--data', values.data, '--out', run, '--side', side, ...settings);
  const seconds = (performance.now() - started) / 1000;
  const report = JSON.parse(losa('eval', '--data', values.data, '--checkpoint', run, '--cache', path.join(dir, 'cache'), '--json'));
  // Within a pair (classes 2k, 2k+1 in sorted order are partners: moving-left/right, rotating-ccw/cw):
  // of the clips predicted inside their own pair, the share predicted as the right member.
  const c = report.confusion;
  let right = 0;
  let inPair = 0;
  for (let k = 0; k + 1 < c.length; k += 2) {
    right += c[k][k] + c[k + 1][k + 1];
    inPair += c[k][k] + c[k][k + 1] + c[k + 1][k] + c[k + 1][k + 1];
  }
  const params = JSON.parse(await fs.readFile(path.join(run, 'run.json'), 'utf8')).side;
  results.push({ side, top1: report.top1, withinPair: right / inPair, seconds, params });
}
console.log(`accuracy · ${values.data} · ViT-Ti/16 random weights at 112 px, grid:4 pooling, 30 epochs · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}`);
console.log('side network   val top-1   right member within a pair   train time');
for (const r of results) {
  console.log(`${r.side.padEnd(13)}  ${(100 * r.top1).toFixed(1).padStart(8)}%   ${(100 * r.withinPair).toFixed(1).padStart(26)}%   ${r.seconds.toFixed(0).padStart(8)} s`);
}
console.log(`LoSA − linear: ${(100 * (results[0].top1 - results[1].top1)).toFixed(1)} points of top-1`);
await fs.rm(dir, { recursive: true, force: true });
