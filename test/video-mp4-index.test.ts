// The frame table read from an MP4/MOV index gives the frames ffmpeg's demuxer gives: for each
// kind of file, the same shown frames at the same times, the same keyframes and the same count
// as the packet pass (ffprobe, an independent reader); files it does not follow give null.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegInput, listPackets, probeStreams, runFfmpeg } from '../src/video/ffmpeg.js';
import { FrameTableBuilder } from '../src/video/frame-table.js';
import { mp4FrameTable } from '../src/video/mp4-index.js';
import { probeVideo } from '../src/video/probe.js';

let dir: string;
const SRC = 'testsrc2=s=96x72:r=25:d=6';
const X264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p'];

/** ffmpeg arguments (output last) of each kind of file. */
const kinds: Record<string, (out: string) => string[]> = {
  'B-frames (an edit list shifts the start)': (o) => ['-f', 'lavfi', '-i', SRC, ...X264, '-g', '25', o],
  'no B-frames': (o) => ['-f', 'lavfi', '-i', SRC, ...X264, '-bf', '0', o],
  'index first (faststart)': (o) => ['-f', 'lavfi', '-i', SRC, ...X264, '-g', '30', '-movflags', '+faststart', o],
  'QuickTime .mov at 30 fps': (o) => ['-f', 'lavfi', '-i', 'testsrc2=s=96x72:r=30:d=6', ...X264, o.replace(/\.mp4$/, '.mov')],
  'variable frame rate': (o) => ['-f', 'lavfi', '-i', SRC, '-vf', "setpts='N/25/TB+0.013*sin(N)/TB'", '-vsync', 'vfr', ...X264, o],
  'open GOPs': (o) => ['-f', 'lavfi', '-i', SRC, ...X264, '-x264opts', 'open_gop=1:keyint=30', o],
  'MPEG-4 part 2': (o) => ['-f', 'lavfi', '-i', SRC, '-c:v', 'mpeg4', o],
  'audio track first': (o) => ['-f', 'lavfi', '-i', SRC, '-f', 'lavfi', '-i', 'sine=d=6', ...X264, '-c:a', 'aac', '-map', '1', '-map', '0', o],
};

async function make(name: string, args: string[]): Promise<string> {
  const out = args[args.length - 1]!;
  const r = await runFfmpeg(['-loglevel', 'error', '-y', ...args.slice(0, -1), ffmpegInput(out)]);
  expect(r.code, `${name}: ${r.stderr}`).toBe(0);
  return out;
}

/** The video stream's packets as ffprobe lists them, and what the index reader makes of the file. */
async function bothTables(file: string) {
  const parsed = await probeStreams(file, ['-v', 'error']);
  const stream = (parsed.streams as { codec_type?: string; index: number; nb_frames?: string }[]).find((s) => s.codec_type === 'video')!;
  const packets = new FrameTableBuilder();
  await listPackets(file, (index, pts, flags) => {
    if (index === stream.index) packets.add(pts, flags);
  });
  return { packets, index: await mp4FrameTable(file, stream.index, Number(stream.nb_frames)) };
}

function expectSameFrames(packets: FrameTableBuilder, index: FrameTableBuilder | null): void {
  expect(index).not.toBeNull();
  const a = packets.build(1, false);
  const b = index!.build(1, false);
  expect(b.problem).toBe(a.problem);
  expect(index!.count).toBe(packets.count);
  expect(Array.from(b.table!.times)).toEqual(Array.from(a.table!.times));
  expect(Array.from(b.table!.keyframes)).toEqual(Array.from(a.table!.keyframes));
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-mp4-index-'));
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('mp4FrameTable', () => {
  for (const [name, args] of Object.entries(kinds)) {
    it(`${name}: the frames of the packet pass`, async () => {
      const file = await make(name, args(path.join(dir, `${name.replace(/\W+/g, '-')}.mp4`)));
      const { packets, index } = await bothTables(file);
      expectSameFrames(packets, index);
      expect(index!.discarded).toBe(packets.discarded);
    });
  }

  it('a stream copy cut mid-GOP: the frames shown, those decoded but not shown, the rest dropped', async () => {
    const source = await make('source', kinds['B-frames (an edit list shifts the start)']!(path.join(dir, 'cut-source.mp4')));
    for (const at of ['0.3', '1.1', '2.77']) {
      const file = await make(`cut at ${at}`, ['-ss', at, '-i', source, '-c', 'copy', path.join(dir, `cut-${at}.mp4`)]);
      const { packets, index } = await bothTables(file);
      expectSameFrames(packets, index);
      expect(packets.discarded).toBeGreaterThan(0);
      expect(index!.discarded).toBe(packets.discarded);
    }
  });

  it('a file cut short: the samples that begin before its end, as the demuxer reads them', async () => {
    const whole = await make('faststart', kinds['index first (faststart)']!(path.join(dir, 'whole.mp4')));
    const bytes = await fs.readFile(whole);
    for (const fraction of [0.35, 0.6, 0.85]) {
      const cut = path.join(dir, `cut-short-${fraction}.mp4`);
      await fs.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * fraction)));
      const { packets, index } = await bothTables(cut);
      expectSameFrames(packets, index);
      expect(index!.count).toBeLessThan(150);
      expect((await probeVideo(cut)).frameCount).toBe(packets.count);
    }
  });

  it('gives null for a fragmented file, and probing reads its packets instead', async () => {
    const file = await make('fragmented', ['-f', 'lavfi', '-i', SRC, ...X264, '-movflags', 'frag_keyframe+empty_moov', path.join(dir, 'frag.mp4')]);
    expect(await mp4FrameTable(file, 0, 150)).toBeNull();
    const info = await probeVideo(file);
    expect(info.frameCount).toBe(150);
    expect(info.frames?.keyframes.length).toBeGreaterThan(0);
  });

  it('gives null when the header counts other samples than the index (not the track ffprobe means)', async () => {
    const file = await make('plain', kinds['no B-frames']!(path.join(dir, 'plain.mp4')));
    expect(await mp4FrameTable(file, 0, 149)).toBeNull();
    expect(await mp4FrameTable(file, 3, 150)).toBeNull();
  });
});
