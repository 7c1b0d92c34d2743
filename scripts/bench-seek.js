#!/usr/bin/env node
// Seek benchmark: 8 frames (one test view, 224 px, as `losa classify` takes them) from a 10 s
// 1280×720 H.264 clip against the same from a 10-minute clip of the same encoding (the 10 s
// clip's stream copied 60 times: the same GOPs, the same bytes per frame). Each load is what a
// user pays: probe (header, frame table) and decode. Loads alternate between the two clips and
// the median of each is taken; the 10-minute clip is also decoded once without seeking (how
// losa decoded before), which must give the same bytes.
//
// Usage: node scripts/bench-seek.js [--runs 7] [--keyint 50] [--frames 8] [--size 224]
// Needs `npm run build` first.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ffmpegBinaries, loadClips, probeVideo } from '../dist/video/index.js';
import { createRng } from '../dist/random.js';
import { makeBenchClips } from './bench-clips.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    keyint: { type: 'string', default: '50' },
    frames: { type: 'string', default: '8' },
    size: { type: 'string', default: '224' },
  },
});
const RUNS = Number(values.runs);
const T = Number(values.frames);
const S = Number(values.size);

async function load(file, seek = true) {
  const t0 = performance.now();
  const { clips } = await loadClips(file, { numFrames: T, size: S, mode: 'test', seek }, createRng(0));
  return { ms: performance.now() - t0, frames: clips[0].frames };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bench-seek-'));
try {
  const { short, long } = await makeBenchClips(dir, { copies: 60, longName: 'clip 10min.mp4', keyint: Number(values.keyint) });

  const infos = [await probeVideo(short), await probeVideo(long)];
  const { ffmpeg: bin } = await ffmpegBinaries();
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  console.log(`seek benchmark: ${T} frames at ${S} px (one test view) from 1280x720 H.264 (x264 veryfast, crf 23, keyframe every ${values.keyint} frames); ` +
    `${RUNS} loads each, alternating, median; ffmpeg ${bin.version.text} (${bin.source}); ${os.cpus().length} × ${cpu}`);
  for (const info of infos) {
    console.log(`  ${path.basename(info.path)}: ${info.frameCount} frames, ${info.frames?.keyframes.length ?? '?'} keyframes, ${((info.bytes ?? 0) / 1e6).toFixed(1)} MB`);
  }

  await load(short);
  await load(long); // warm-up: page cache, binaries, fluent-ffmpeg's capability check
  const times = { short: [], long: [], probeShort: [], probeLong: [] };
  for (let r = 0; r < RUNS; r++) {
    times.short.push((await load(short)).ms);
    times.long.push((await load(long)).ms);
    let t0 = performance.now();
    await probeVideo(short);
    times.probeShort.push(performance.now() - t0);
    t0 = performance.now();
    await probeVideo(long);
    times.probeLong.push(performance.now() - t0);
  }
  const sought = await load(long);
  const full = await load(long, false);
  const same = Buffer.from(sought.frames).equals(Buffer.from(full.frames));

  const rows = [
    ['10 s clip', median(times.short), median(times.probeShort)],
    ['10 min clip', median(times.long), median(times.probeLong)],
  ];
  console.log('');
  console.log('| clip | load ms (probe + decode) | probe ms | decode ms (load − probe) |');
  console.log('|---|---:|---:|---:|');
  for (const [name, ms, probe] of rows) console.log(`| ${name} | ${ms.toFixed(0)} | ${probe.toFixed(0)} | ${(ms - probe).toFixed(0)} |`);
  console.log(`| 10 min clip, no seeking (decoding from the first frame) | ${full.ms.toFixed(0)} | | |`);
  console.log('');
  const decodeRatio = (rows[1][1] - rows[1][2]) / (rows[0][1] - rows[0][2]);
  console.log(`10 min / 10 s: load ${(median(times.long) / median(times.short)).toFixed(2)}×, decode ${decodeRatio.toFixed(2)}× ` +
    `(target ≤ 1.5×); without seeking ${(full.ms / median(times.short)).toFixed(1)}× the 10 s load`);
  console.log(`same pixels with and without seeking: ${same ? 'yes' : 'NO'}`);
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
