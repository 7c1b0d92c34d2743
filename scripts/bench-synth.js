#!/usr/bin/env node
// `losa data synth` speed: writing the demo's data set (or a part of it) with 1 and with 2
// encoders at once, side by side in one run; the ratio is seconds of video written per second.
//
//   node scripts/bench-synth.js [--train-per-class 16] [--val-per-class 1]
// Needs `npm run build`.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { losa } from './losa-cli.js';

const { values } = parseArgs({ options: { 'train-per-class': { type: 'string', default: '16' }, 'val-per-class': { type: 'string', default: '1' } } });
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bench-synth-'));
const clips = 4 * (Number(values['train-per-class']) + Number(values['val-per-class']));
const seconds = 2;
console.log(`data synth · ${clips} clips of ${seconds} s at 160x120, 15 fps · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}`);
console.log('workers   seconds   clips/s   video s per s');
for (const workers of [1, 2]) {
  const out = path.join(dir, `set-${workers}`);
  const started = performance.now();
  losa('data', 'synth', out, '--train-per-class', values['train-per-class'], '--val-per-class', values['val-per-class'], '--workers', String(workers));
  const wall = (performance.now() - started) / 1000;
  console.log(`${String(workers).padStart(7)}  ${wall.toFixed(1).padStart(8)}  ${(clips / wall).toFixed(1).padStart(8)}  ${((clips * seconds) / wall).toFixed(1).padStart(13)}×`);
}
await fs.rm(dir, { recursive: true, force: true });
