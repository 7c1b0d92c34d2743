// Streaming clips: chunks of at most C frames, every (clip, t) once, the same bytes as an
// independent reference (a plain ffmpeg decode of the whole file, cropped and flipped here),
// and no frame decoded before the chunk that needs it.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../src/random.js';
import { loadClips } from '../src/video/clip.js';
import { ffmpegInput, readFfmpeg, runFfmpeg } from '../src/video/ffmpeg.js';
import { scaledSize } from '../src/video/sampling.js';
import { openClips, type ClipStream, type FrameChunk } from '../src/video/stream.js';

let dir: string;
let video: string;

/** Every frame of `file` through one ffmpeg filter chain, no select, no seek: [N][H·W·3]. */
async function allFrames(file: string, filter: string, width: number, height: number): Promise<Buffer[]> {
  const r = await readFfmpeg(['-loglevel', 'error', '-i', ffmpegInput(file), '-vf', filter, '-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
  expect(r.code).toBe(0);
  const bytes = width * height * 3;
  return Array.from({ length: r.stdout.length / bytes }, (_, i) => r.stdout.subarray(i * bytes, (i + 1) * bytes));
}

/** All chunks of a stream, checked for size, and the frames of each (clip, t) they carried. */
async function collect(stream: ClipStream, chunk: number): Promise<Map<string, Buffer>> {
  const seen = new Map<string, Buffer>();
  const S = stream.clips[0]!.size;
  const bytes = S * S * 3;
  for await (const c of stream.chunks(chunk) as AsyncIterable<FrameChunk>) {
    expect(c.count).toBeGreaterThan(0);
    expect(c.count).toBeLessThanOrEqual(chunk);
    expect(c.frames.length).toBe(c.count * bytes);
    for (let j = 0; j < c.count; j++) {
      const key = `${c.clip[j]}/${c.t[j]}`;
      expect(seen.has(key)).toBe(false);
      seen.set(key, Buffer.from(c.frames.subarray(j * bytes, (j + 1) * bytes)));
    }
  }
  expect(seen.size).toBe(stream.clips.length * stream.clips[0]!.numFrames);
  return seen;
}

function cropOut(frame: Buffer, width: number, box: { x: number; y: number; width: number; height: number }): Buffer {
  const rows = Array.from({ length: box.height }, (_, y) => frame.subarray(((box.y + y) * width + box.x) * 3, ((box.y + y) * width + box.x + box.width) * 3));
  return Buffer.concat(rows);
}

function mirror(frame: Buffer, size: number): Buffer {
  const out = Buffer.alloc(frame.length);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) frame.copy(out, (y * size + size - 1 - x) * 3, (y * size + x) * 3, (y * size + x) * 3 + 3);
  return out;
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-stream-'));
  video = path.join(dir, 'clip.mp4');
  const r = await runFfmpeg(['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=s=120x90:r=25:d=8', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-pix_fmt', 'yuv420p', ffmpegInput(video)]);
  expect(r.code).toBe(0);
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('openClips', () => {
  it('test mode, one crop (cut by ffmpeg): the bytes of a whole-file decode cropped', async () => {
    const S = 24;
    const stream = await openClips(video, { numFrames: 7, size: S, mode: 'test', views: 2 }, createRng(0));
    const got = await collect(stream, 3);
    const scaled = scaledSize(stream.info.width, stream.info.height, S);
    const frames = await allFrames(video, `scale=${scaled.width}:${scaled.height}:flags=bicubic`, scaled.width, scaled.height);
    stream.clips.forEach((clip, k) => clip.indices.forEach((index, t) => {
      expect(got.get(`${k}/${t}`)!.equals(cropOut(frames[index]!, scaled.width, clip.box)), `clip ${k} t ${t}`).toBe(true);
    }));
  });

  it('test mode: views × crops in chunks of C, the bytes of a whole-file decode cropped', async () => {
    const S = 24;
    const options = { numFrames: 5, size: S, mode: 'test' as const, views: 2, crops: 3 as const };
    const stream = await openClips(video, options, createRng(0));
    expect(stream.clips).toHaveLength(6);
    const got = await collect(stream, 4);
    const scaled = scaledSize(stream.info.width, stream.info.height, S);
    const frames = await allFrames(video, `scale=${scaled.width}:${scaled.height}:flags=bicubic`, scaled.width, scaled.height);
    stream.clips.forEach((clip, k) => clip.indices.forEach((index, t) => {
      expect(got.get(`${k}/${t}`)!.equals(cropOut(frames[index]!, scaled.width, clip.box)), `clip ${k} t ${t}`).toBe(true);
    }));
    expect(stream.partial).toBe(false);
    // loadClips, which collects the same chunks, agrees
    const { clips } = await loadClips(video, options, createRng(0));
    clips.forEach((clip, k) => {
      for (let t = 0; t < 5; t++) expect(Buffer.from(clip.frames.subarray(t * S * S * 3, (t + 1) * S * S * 3)).equals(got.get(`${k}/${t}`)!)).toBe(true);
    });
  });

  it('train mode: the random crop scaled by ffmpeg, flipped when drawn so', async () => {
    const S = 16;
    for (const seed of [1, 2, 3, 4]) {
      const stream = await openClips(video, { numFrames: 6, size: S, mode: 'train', flip: true }, createRng(seed));
      const [clip] = stream.clips;
      const got = await collect(stream, 4);
      const { x, y, width, height } = clip!.box;
      const frames = await allFrames(video, `crop=${width}:${height}:${x}:${y}:exact=1,scale=${S}:${S}:flags=bicubic`, S, S);
      clip!.indices.forEach((index, t) => {
        const expected = clip!.flipped ? mirror(frames[index]!, S) : frames[index]!;
        expect(got.get(`0/${t}`)!.equals(expected)).toBe(true);
      });
    }
  });

  it('decodes nothing ahead of the chunk asked for', async () => {
    const stream = await openClips(video, { numFrames: 64, size: 32, mode: 'test' }, createRng(0));
    const chunks = stream.chunks(4);
    const first = await chunks.next();
    expect(first.value!.count).toBe(4);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a consumer busy elsewhere
    expect(stream.framesDecoded).toBe(4);
    await chunks.return(undefined); // stopping early ends the decoders
    expect(stream.framesDecoded).toBe(4);
  });

  it('repeats the last frame read when the file ends early', async () => {
    // Cut inside the last packet listed: the decoder cannot use it, so the last frame asked for is missing.
    const whole = path.join(dir, 'faststart.mp4');
    const made = await runFfmpeg(['-loglevel', 'error', '-y', '-i', ffmpegInput(video), '-c', 'copy', '-movflags', '+faststart', ffmpegInput(whole)]);
    expect(made.code).toBe(0);
    const bytes = await fs.readFile(whole);
    const cut = path.join(dir, 'cut.mp4');
    await fs.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const info = (await openClips(cut, { numFrames: 1, size: 16, mode: 'test' }, createRng(0))).info;
    const T = info.frameCount + 3; // a clip longer than the file: every frame, then the last repeated
    const stream = await openClips(cut, { numFrames: T, size: 16, mode: 'test' }, createRng(0));
    const got = await collect(stream, 5);
    const read = stream.framesDecoded;
    expect(read).toBeGreaterThan(10);
    expect(read).toBeLessThan(info.frameCount);
    expect(stream.partial).toBe(true);
    for (let t = read; t < T; t++) expect(got.get(`0/${t}`)!.equals(got.get(`0/${read - 1}`)!)).toBe(true);
    expect(got.get(`0/${read - 1}`)!.equals(got.get(`0/${read - 2}`)!)).toBe(false);
  });
});
