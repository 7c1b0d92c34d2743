#!/usr/bin/env node
// Memory of the commands as a user runs them, each in a fresh process, peak RSS = VmHWM of the
// command's process plus that of its backbone process (scripts/peak-rss.js), side by side:
//
// 1. Clip length: `losa features` on one 60 s 1280×720 clip at T = 8 and T = 256 (same chunk).
//    Frames stream decode → backbone in chunks and the features go to the file as they come,
//    so the two should be within 10%.
// 2. Training vs inference: `losa train` for one epoch (batch 8, no cache, no validation)
//    against `losa features` on the same clips. The backbone is outside the gradient path,
//    so training should cost at most 1.1× what inference does.
//
//   node scripts/bench-memory.js [--data video/demo] [--clips 16] [--backbones vit-s16,vit-b16]
//                                [--frames 8,256] [--rounds 1] [--parts 1,2]
// Needs `npm run build` and a data set (`losa data synth video/demo`, or `npm run demo`).
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeBenchClips } from './bench-clips.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    data: { type: 'string', default: path.join(root, 'video', 'demo') },
    clips: { type: 'string', default: '16' },
    backbones: { type: 'string', default: 'vit-s16,vit-b16' },
    frames: { type: 'string', default: '8,256' },
    rounds: { type: 'string', default: '1' },
    parts: { type: 'string', default: '1,2' }, // which of the two comparisons to run
  },
});
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bench-memory-'));
const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** Peak RSS of `losa ARGS` (the command and its backbone process, summed) and its wall time. */
async function peak(args) {
  const file = path.join(dir, `rss-${Math.random().toString(36).slice(2)}`);
  const started = performance.now();
  const res = spawnSync(process.execPath, ['--import', path.join(root, 'scripts', 'peak-rss.js'), path.join(root, 'bin', 'losa.js'), ...args], {
    env: { ...process.env, PEAK_RSS_FILE: file }, encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`losa ${args[0]} failed: ${res.stderr}`);
  const lines = (await fs.readFile(file, 'utf8')).trim().split('\n').map(Number);
  return { bytes: lines.reduce((a, b) => a + b, 0), lines, seconds: (performance.now() - started) / 1000 };
}

/** The first N training clips of the data set, linked into a train-only data set. */
async function pickClips(n) {
  const data = path.join(dir, 'data');
  const all = [];
  for (const cls of (await fs.readdir(path.join(values.data, 'train'))).sort()) {
    await fs.mkdir(path.join(data, 'train', cls), { recursive: true });
    for (const f of (await fs.readdir(path.join(values.data, 'train', cls))).sort()) all.push([cls, f]);
  }
  const picked = all.filter((_, i) => i % Math.ceil(all.length / n) === 0).slice(0, n);
  for (const [cls, f] of picked) await fs.symlink(path.resolve(values.data, 'train', cls, f), path.join(data, 'train', cls, f));
  return { data, clips: picked.map(([cls, f]) => path.join(data, 'train', cls, f)) };
}

const backbones = values.backbones.split(',');
const frames = values.frames.split(',').map(Number);
const rounds = Number(values.rounds);
console.log(`peak RSS (command + backbone process) · ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'} · ${new Date().toISOString().slice(0, 10)}`);
const parts = new Set(values.parts.split(','));
try {
  if (parts.has('1')) await clipLength();
  if (parts.has('2')) await trainVsFeatures();
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}

async function clipLength() {
  const { long: clip } = await makeBenchClips(dir, { copies: 6, longName: 'clip 60s.mp4' });
  console.log(`\n1. losa features on one 60 s 1280×720 clip, default chunk; ${rounds} round(s), alternating, medians\n`);
  console.log(`| backbone | ${frames.map((t) => `T = ${t}`).join(' | ')} | largest / smallest |`);
  console.log(`|---|${frames.map(() => '---:').join('|')}|---:|`);
  for (const backbone of backbones) {
    const runs = frames.map(() => []);
    for (let r = 0; r < rounds; r++) {
      for (const [i, t] of frames.entries()) {
        runs[i].push((await peak(['features', clip, '--backbone', backbone, '--num-frames', String(t), '--out', path.join(dir, `f-${t}.safetensors`)])).bytes);
      }
    }
    const med = runs.map((xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
    console.log(`| ${backbone} | ${med.map(mib).join(' | ')} | ${(Math.max(...med) / Math.min(...med)).toFixed(3)}× |`);
  }
}

async function trainVsFeatures() {
  const { data, clips } = await pickClips(Number(values.clips));
  console.log(`\n2. losa train (1 epoch, batch 8, --no-cache --no-val) vs losa features on the same ${clips.length} clips of 8 frames; ${rounds} round(s), medians\n`);
  console.log('| backbone | `losa features` | `losa train` | train / features | features s | train s |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const backbone of backbones) {
    const f = [];
    const t = [];
    for (let r = 0; r < rounds; r++) {
      f.push(await peak(['features', ...clips, '--backbone', backbone, '--out', path.join(dir, 'features') + '/']));
      t.push(await peak(['train', '--data', data, '--out', path.join(dir, `run-${r}-${backbone}`), '--backbone', backbone, '--epochs', '1', '--no-cache', '--no-val', '--no-tui']));
    }
    const median = (xs) => xs.sort((a, b) => a.bytes - b.bytes)[Math.floor(xs.length / 2)];
    const [fm, tm] = [median(f), median(t)];
    console.log(`| ${backbone} | ${mib(fm.bytes)} | ${mib(tm.bytes)} | **${(tm.bytes / fm.bytes).toFixed(3)}×** | ${fm.seconds.toFixed(1)} | ${tm.seconds.toFixed(1)} |`);
    console.log(`|  (backbone process + command) | ${fm.lines.map(mib).join(' + ')} | ${tm.lines.map(mib).join(' + ')} | | | |`);
  }
}
