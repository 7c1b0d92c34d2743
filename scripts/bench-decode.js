#!/usr/bin/env node
// Decode benchmark: 8 frames at 224×224 from a 10-second 1280×720 H.264 clip.
//   selective: losa's decoder: one ffprobe, one ffmpeg whose `select` filter passes only the
//              sampled frames on to scaling, colour conversion and the pipe.
//   all + pick: ffmpeg scales and pipes every frame; JavaScript keeps the 8 sampled ones.
// Both probe the file, sample the same indices (test mode: one view, centre crop) and produce
// the same [8, 224, 224, 3] bytes; each runs at concurrency 1 and 2. Run `npm run build` first.
//
// Usage: node scripts/bench-decode.js [--clips N] [--frames T] [--size S]
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import PQueue from 'p-queue';
import {
  ffmpegInput, loadClips, probeVideo, runFfmpeg, sampleTestViews, scaledSize, startFfmpeg, testCrops, cropFrame,
} from '../dist/video/index.js';
import { createRng } from '../dist/random.js';

const { values } = parseArgs({
  options: { clips: { type: 'string', default: '4' }, frames: { type: 'string', default: '8' }, size: { type: 'string', default: '224' } },
});
const CLIPS = Number(values.clips);
const T = Number(values.frames);
const S = Number(values.size);

/** Decode every frame (scaled as losa does) and keep the sampled ones in JavaScript. */
async function decodeAllAndPick(file) {
  const info = await probeVideo(file);
  const indices = sampleTestViews(info.frameCount, T, 1, 'auto')[0];
  const scaled = scaledSize(info.width, info.height, S);
  const frameBytes = scaled.width * scaled.height * 3;
  const wanted = new Map();
  indices.forEach((index, t) => wanted.set(index, [...(wanted.get(index) ?? []), t]));
  const out = new Uint8Array(T * S * S * 3); // [T, S, S, 3]
  const box = testCrops(scaled.width, scaled.height, S, 1)[0];
  const { child, done } = await startFfmpeg([
    '-loglevel', 'error', '-i', ffmpegInput(file), '-map', '0:v:0', '-vf', `scale=${scaled.width}:${scaled.height}:flags=bicubic`,
    '-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ]);
  let frame = Buffer.alloc(frameBytes);
  let filled = 0;
  let n = 0;
  child.stdout.on('data', (chunk) => {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(frameBytes - filled, chunk.length - offset);
      chunk.copy(frame, filled, offset, offset + take);
      filled += take;
      offset += take;
      if (filled === frameBytes) {
        for (const t of wanted.get(n) ?? []) cropFrame(frame, scaled.width, box, out, t * S * S * 3);
        n++;
        filled = 0;
      }
    }
  });
  const result = await done;
  if (result.code !== 0) throw new Error(`ffmpeg failed: ${result.stderr}`);
  return out;
}

async function selective(file) {
  const { clips } = await loadClips(file, { numFrames: T, size: S, mode: 'test' }, createRng(0));
  return clips[0].frames;
}

async function measure(run, file, concurrency) {
  await run(file); // warm-up: page cache, binaries
  const queue = new PQueue({ concurrency });
  const latencies = [];
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIPS }, () => queue.add(async () => {
    const t0 = performance.now();
    await run(file);
    latencies.push(performance.now() - t0);
  })));
  const wall = (performance.now() - started) / 1000;
  return { msPerClip: latencies.reduce((a, b) => a + b, 0) / latencies.length, clipsPerSecond: CLIPS / wall };
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bench-decode-'));
try {
  const file = path.join(dir, 'clip 720p.mp4');
  // Test pattern plus moving grain, so that frames cost what camera footage costs to decode.
  const made = await runFfmpeg([
    '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=s=1280x720:r=25:d=10,noise=alls=4:allf=t',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p', ffmpegInput(file),
  ]);
  if (made.code !== 0) throw new Error(`could not make the test clip: ${made.stderr}`);
  const info = await probeVideo(file);
  const [a, b] = [await selective(file), await decodeAllAndPick(file)];
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));

  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  console.log(`decode benchmark: ${info.duration.toFixed(0)} s ${info.width}x${info.height} ${info.codec} ` +
    `(${info.frameCount} frames at ${info.fps} fps, ${((info.bytes ?? 0) / 1e6).toFixed(1)} MB), ${T} frames at ${S}x${S} per clip, ` +
    `${CLIPS} clips per row; ${os.cpus().length} × ${cpu}`);
  console.log(`same pixels from both methods: ${maxDiff === 0 ? 'yes' : `no (max difference ${maxDiff})`}`);
  const rows = [];
  const ratios = [];
  for (const concurrency of [1, 2]) {
    const sel = await measure(selective, file, concurrency);
    const all = await measure(decodeAllAndPick, file, concurrency);
    rows.push(['selective decode (losa)', concurrency, sel], ['decode all, pick in JS', concurrency, all]);
    ratios.push([concurrency, sel.clipsPerSecond / all.clipsPerSecond, all.msPerClip / sel.msPerClip]);
  }
  console.log('');
  console.log('| method                  | concurrency | ms per clip | clips/s |');
  console.log('|-------------------------|------------:|------------:|--------:|');
  for (const [name, c, r] of rows) {
    console.log(`| ${name.padEnd(23)} | ${String(c).padStart(11)} | ${r.msPerClip.toFixed(0).padStart(11)} | ${r.clipsPerSecond.toFixed(2).padStart(7)} |`);
  }
  console.log('');
  for (const [c, throughput, latency] of ratios) {
    console.log(`speedup at concurrency ${c}: ${throughput.toFixed(2)}× clips/s, ${latency.toFixed(2)}× lower ms per clip`);
  }
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
