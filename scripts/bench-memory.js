#!/usr/bin/env node
// Training memory vs inference memory: peak RSS of `losa train` (one epoch, no cache) against
// `losa features` on the same clips, each in its own process, side by side in one run. The
// backbone is outside the gradient path, so training should cost little more than inference.
//
//   node scripts/bench-memory.js [--data video/demo] [--clips 32] [--backbone vit-ti16]
// Needs `npm run build` and a data set (`losa data synth video/demo`).
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    data: { type: 'string', default: path.join(root, 'video', 'demo') },
    clips: { type: 'string', default: '32' },
    backbone: { type: 'string', default: 'vit-ti16' },
  },
});
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bench-memory-'));
const data = path.join(dir, 'data');
// The same clips for both: the first N training clips, linked into a train-only data set.
const inputs = [];
for (const cls of (await fs.readdir(path.join(values.data, 'train'))).sort()) {
  await fs.mkdir(path.join(data, 'train', cls), { recursive: true });
  for (const f of (await fs.readdir(path.join(values.data, 'train', cls))).sort()) inputs.push([cls, f]);
}
const picked = inputs.filter((_, i) => i % Math.ceil(inputs.length / Number(values.clips)) === 0).slice(0, Number(values.clips));
for (const [cls, f] of picked) await fs.symlink(path.resolve(values.data, 'train', cls, f), path.join(data, 'train', cls, f));
const clips = picked.map(([cls, f]) => path.join(data, 'train', cls, f));

async function peak(args) {
  const file = path.join(dir, `rss-${Math.random().toString(36).slice(2)}`);
  const started = performance.now();
  const res = spawnSync(process.execPath, ['--import', path.join(root, 'scripts', 'peak-rss.js'), path.join(root, 'bin', 'losa.js'), ...args], {
    env: { ...process.env, PEAK_RSS_FILE: file }, encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`losa ${args[0]} failed: ${res.stderr}`);
  // One line per process (the command and its backbone process): their sum.
  const bytes = (await fs.readFile(file, 'utf8')).trim().split('\n').reduce((sum, line) => sum + Number(line), 0);
  return { bytes, seconds: (performance.now() - started) / 1000 };
}

const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const features = await peak(['features', ...clips, '--backbone', values.backbone, '--out', path.join(dir, 'features')]);
const training = await peak(['train', '--data', data, '--out', path.join(dir, 'run'), '--backbone', values.backbone, '--epochs', '1', '--no-cache', '--no-val', '--no-tui']);
console.log(`peak RSS · ${values.backbone} · ${clips.length} clips of 8 frames · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}`);
console.log('command                           peak RSS   time');
console.log(`losa features (${clips.length} clips)          ${mib(features.bytes).padStart(8)}  ${features.seconds.toFixed(1)} s`);
console.log(`losa train (1 epoch, batch 8)     ${mib(training.bytes).padStart(8)}  ${training.seconds.toFixed(1)} s`);
console.log(`train / features: ${(training.bytes / features.bytes).toFixed(3)}×`);
await fs.rm(dir, { recursive: true, force: true });
