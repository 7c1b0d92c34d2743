#!/usr/bin/env node
// Memory at the video layer: peak RSS of a process that takes one test view of T frames at
// 224 px from a 60 s 1280×720 clip, in chunks of C (openClips), against the same taken whole
// (loadClips, the clip held at once); then the same for N clips in a row, as `losa features`
// over a data set takes them. Each cell is a fresh process; peak = VmHWM. Streaming should
// cost the same whatever T; holding the clip grows by T × 150 KB.
//
// Usage: node scripts/bench-stream-memory.js [--frames 8,64,256] [--chunk 8] [--clips 16]
// Needs `npm run build` first. Linux only (reads /proc).
import { execFile } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadClips, openClips } from '../dist/video/index.js';
import { createRng } from '../dist/random.js';
import { makeBenchClips } from './bench-clips.js';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '8,64,256' },
    chunk: { type: 'string', default: '8' },
    clips: { type: 'string', default: '16' },
    child: { type: 'string' },
    n: { type: 'string', default: '1' },
    t: { type: 'string' },
    file: { type: 'string' },
  },
});
const S = 224;
const C = Number(values.chunk);
const peakRss = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;

if (values.child) {
  // One measurement: take the clip, touch every byte, report the peak.
  const T = Number(values.t);
  const options = { numFrames: T, size: S, mode: 'test' };
  let sum = 0;
  for (let n = 0; n < Number(values.n); n++) {
    if (values.child === 'stream') {
      const stream = await openClips(values.file, options, createRng(n));
      for await (const chunk of stream.chunks(C)) {
        for (let i = 0; i < chunk.frames.length; i += 4096) sum += chunk.frames[i];
        chunk.release();
      }
    } else {
      const { clips } = await loadClips(values.file, options, createRng(n));
      for (let i = 0; i < clips[0].frames.length; i += 4096) sum += clips[0].frames[i];
    }
  }
  process.stdout.write(JSON.stringify({ peak: peakRss(), sum }) + '\n');
  process.exit(0);
}

const script = fileURLToPath(import.meta.url);
const measure = (mode, T, file, n = 1) => new Promise((resolve, reject) => {
  execFile(process.execPath, [script, '--child', mode, '--t', String(T), '--chunk', String(C), '--file', file, '--n', String(n)], (error, stdout, stderr) => {
    if (error) reject(new Error(`${mode} T=${T}: ${stderr}`));
    else resolve(JSON.parse(stdout.trim().split('\n').pop()).peak);
  });
});

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bench-stream-'));
try {
  const { long: file } = await makeBenchClips(dir, { copies: 6, longName: 'clip 60s.mp4' });

  const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const frames = values.frames.split(',').map(Number);
  console.log(`video-layer memory: one test view of T frames at ${S} px from a 60 s 1280x720 H.264 clip; chunk ${C}; ` +
    `each cell a fresh process, peak RSS (VmHWM); ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}`);
  console.log('');
  const N = Number(values.clips);
  console.log(`| T | clip bytes | 1 clip streamed in chunks of ${C} | 1 clip held whole (loadClips) | ${N} clips streamed | ${N} clips held whole |`);
  console.log('|---:|---:|---:|---:|---:|---:|');
  const one = [];
  const many = [];
  for (const T of frames) {
    const row = [await measure('stream', T, file), await measure('whole', T, file), await measure('stream', T, file, N), await measure('whole', T, file, N)];
    one.push(row[0]);
    many.push(row[2]);
    console.log(`| ${T} | ${mib(T * S * S * 3)} | ${row.map(mib).join(' | ')} |`);
  }
  const spread = (xs) => `${((Math.max(...xs) / Math.min(...xs) - 1) * 100).toFixed(1)}%`;
  console.log('');
  console.log(`streamed, largest peak above the smallest across T = ${frames.join(', ')}: one clip ${spread(one)}, ${N} clips ${spread(many)} (target: within 10%)`);
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
