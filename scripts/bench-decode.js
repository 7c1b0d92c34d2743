#!/usr/bin/env node
// Decode benchmark: 8 frames at 224×224 from a 10-second 1280×720 H.264 clip.
//   losa (fluent-ffmpeg): loadClips as it is: ffprobe's header through fluent-ffmpeg and a
//              packet pass (the frame table), then ffmpeg through fluent-ffmpeg, seeking to
//              the keyframe before each stretch of frames and picking them by time.
//   losa before: the decoder as it was before fluent-ffmpeg and seeking (kept here only for
//              this comparison): one ffprobe with -count_packets and one ffmpeg whose `select`
//              passes the sampled frame numbers on, both spawned with child_process.
//   all + pick: ffmpeg scales and pipes every frame; JavaScript keeps the 8 sampled ones.
// All three use the same binaries, probe the file, sample the same indices (test mode: one
// view, centre crop) and produce the same [8, 224, 224, 3] bytes; each runs at concurrency 1
// and 2, rows interleaved. Run `npm run build` first.
//
// Usage: node scripts/bench-decode.js [--clips N] [--frames T] [--size S] [--rounds R]
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import PQueue from 'p-queue';
import {
  ffmpegBinaries, ffmpegInput, loadClips, probeVideo, runFfmpeg, sampleTestViews, scaledSize, selectExpression, testCrops, cropFrame,
} from '../dist/video/index.js';
import { createRng } from '../dist/random.js';

const { values } = parseArgs({
  options: {
    clips: { type: 'string', default: '4' }, frames: { type: 'string', default: '8' }, size: { type: 'string', default: '224' },
    rounds: { type: 'string', default: '3' },
  },
});
const ROUNDS = Number(values.rounds);
const CLIPS = Number(values.clips);
const T = Number(values.frames);
const S = Number(values.size);

const binaries = await ffmpegBinaries();

/** Run a binary with child_process (no fluent-ffmpeg); resolves with its exit code once its output is read. */
function spawnTool(binary, args, onStdout) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-hide_banner', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.on('data', onStdout);
    child.stderr.on('data', (d) => { stderr += d; });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${binary} exited with ${code}: ${stderr}`))));
  });
}

/** The probe as it was: one ffprobe, every packet counted, JSON. */
async function probeBefore(file) {
  let json = '';
  await spawnTool(binaries.ffprobe.path, ['-v', 'error', '-count_packets', '-show_streams', '-show_format', '-of', 'json', ffmpegInput(file)], (d) => { json += d; });
  const stream = JSON.parse(json).streams.find((s) => s.codec_type === 'video');
  return { frameCount: Number(stream.nb_read_packets), width: stream.width, height: stream.height, index: stream.index };
}

/** Frames of `indices` (sorted, unique) by number, from the first frame, as losa decoded before. */
async function decodeBefore(file) {
  const info = await probeBefore(file);
  const indices = sampleTestViews(info.frameCount, T, 1, 'auto')[0];
  const unique = [...new Set(indices)];
  const scaled = scaledSize(info.width, info.height, S);
  const frameBytes = scaled.width * scaled.height * 3;
  const decoded = new Uint8Array(unique.length * frameBytes);
  let received = 0;
  await spawnTool(binaries.ffmpeg.path, [
    '-nostdin', '-loglevel', 'error', '-noautorotate', '-i', ffmpegInput(file), '-map', `0:${info.index}`,
    '-vf', `select=${selectExpression(unique)},scale=${scaled.width}:${scaled.height}:flags=bicubic`, '-vsync', 'passthrough',
    '-frames:v', String(unique.length), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ], (chunk) => {
    decoded.set(chunk.subarray(0, Math.min(chunk.length, decoded.length - received)), received);
    received += chunk.length;
  });
  const out = new Uint8Array(T * S * S * 3); // [T, S, S, 3]
  const box = testCrops(scaled.width, scaled.height, S, 1)[0];
  indices.forEach((index, t) => cropFrame(decoded.subarray(unique.indexOf(index) * frameBytes), scaled.width, box, out, t * S * S * 3));
  return out;
}

/** Decode every frame (scaled as losa does) and keep the sampled ones in JavaScript. */
async function decodeAllAndPick(file) {
  const info = await probeBefore(file);
  const indices = sampleTestViews(info.frameCount, T, 1, 'auto')[0];
  const scaled = scaledSize(info.width, info.height, S);
  const frameBytes = scaled.width * scaled.height * 3;
  const wanted = new Map();
  indices.forEach((index, t) => wanted.set(index, [...(wanted.get(index) ?? []), t]));
  const out = new Uint8Array(T * S * S * 3); // [T, S, S, 3]
  const box = testCrops(scaled.width, scaled.height, S, 1)[0];
  let frame = Buffer.alloc(frameBytes);
  let filled = 0;
  let n = 0;
  await spawnTool(binaries.ffmpeg.path, [
    '-nostdin', '-loglevel', 'error', '-i', ffmpegInput(file), '-map', '0:v:0', '-vf', `scale=${scaled.width}:${scaled.height}:flags=bicubic`,
    '-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ], (chunk) => {
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
  return out;
}

async function losaNow(file) {
  const { clips } = await loadClips(file, { numFrames: T, size: S, mode: 'test' }, createRng(0));
  return clips[0].frames;
}

async function measure(run, file, concurrency) {
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

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

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
  const methods = [['losa (fluent-ffmpeg, seeking)', losaNow], ['losa before (child_process)', decodeBefore], ['decode all, pick in JS', decodeAllAndPick]];
  const outputs = [];
  for (const [, run] of methods) outputs.push(Buffer.from(await run(file))); // also the warm-up
  const same = outputs.every((o) => o.equals(outputs[0]));

  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  console.log(`decode benchmark: ${info.duration.toFixed(0)} s ${info.width}x${info.height} ${info.codec} ` +
    `(${info.frameCount} frames at ${info.fps} fps, ${info.frames?.keyframes.length ?? '?'} keyframes, ${((info.bytes ?? 0) / 1e6).toFixed(1)} MB), ` +
    `${T} frames at ${S}x${S} per clip, ${CLIPS} clips per row, ${ROUNDS} rounds interleaved, medians; ` +
    `ffmpeg ${binaries.ffmpeg.version.text} (${binaries.ffmpeg.source}); ${os.cpus().length} × ${cpu}`);
  console.log(`same pixels from all methods: ${same ? 'yes' : 'NO'}`);
  const rows = [];
  const ratios = [];
  for (const concurrency of [1, 2]) {
    const runs = methods.map(() => []);
    for (let r = 0; r < ROUNDS; r++) {
      for (const [m, [, run]] of methods.entries()) runs[m].push(await measure(run, file, concurrency));
    }
    const summary = runs.map((rs) => ({ msPerClip: median(rs.map((x) => x.msPerClip)), clipsPerSecond: median(rs.map((x) => x.clipsPerSecond)) }));
    summary.forEach((r, m) => rows.push([methods[m][0], concurrency, r]));
    ratios.push([concurrency, summary[0].clipsPerSecond / summary[1].clipsPerSecond, summary[0].clipsPerSecond / summary[2].clipsPerSecond]);
  }
  console.log('');
  console.log('| method | concurrency | ms per clip | clips/s |');
  console.log('|---|---:|---:|---:|');
  for (const [name, c, r] of rows) console.log(`| ${name} | ${c} | ${r.msPerClip.toFixed(0)} | ${r.clipsPerSecond.toFixed(2)} |`);
  console.log('');
  for (const [c, before, all] of ratios) {
    console.log(`concurrency ${c}: losa now / before ${before.toFixed(3)}× clips/s (target ≥ 0.9); now / decode all ${all.toFixed(2)}×`);
  }
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
