// The benchmarks' footage: a 10 s 1280×720 H.264 clip of a test pattern with moving grain (so
// frames cost what camera footage costs to decode; x264 veryfast, crf 23) and a longer one made
// by copying its stream N times (the same GOPs, the same bytes per frame, only longer).
// Needs the compiled library (`npm run build`).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ffmpegInput, runFfmpeg } from '../dist/video/index.js';

async function ffmpeg(args) {
  const r = await runFfmpeg(['-loglevel', 'error', '-y', ...args]);
  if (r.code !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
}

/** `<dir>/clip 10s.mp4` and `<dir>/<longName>` (the 10 s stream `copies` times); keyframe every `keyint` frames. */
export async function makeBenchClips(dir, { copies, longName, keyint = 50 }) {
  const short = path.join(dir, 'clip 10s.mp4');
  const long = path.join(dir, longName);
  await ffmpeg([
    '-f', 'lavfi', '-i', 'testsrc2=s=1280x720:r=25:d=10,noise=alls=4:allf=t', '-c:v', 'libx264', '-preset', 'veryfast',
    '-crf', '23', '-g', String(keyint), '-pix_fmt', 'yuv420p', ffmpegInput(short),
  ]);
  const list = path.join(dir, 'list.txt');
  await fs.writeFile(list, Array.from({ length: copies }, () => `file '${short.replace(/'/g, "'\\''")}'\n`).join(''));
  await ffmpeg(['-f', 'concat', '-safe', '0', '-i', ffmpegInput(list), '-c', 'copy', ffmpegInput(long)]);
  return { short, long };
}
