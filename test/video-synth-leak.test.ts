// writeVideo with a frame generator that throws: the error comes back, and ffmpeg, which would
// otherwise wait for more frames on its input for ever, is not left running.
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeVideo } from '../src/video/synth.js';

/** ffmpeg processes started by this process that still run. */
function ffmpegChildren(): string[] {
  return spawnSync('pgrep', ['-P', String(process.pid), 'ffmpeg'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
}

describe('writeVideo', () => {
  it('ends ffmpeg and removes its temporary file when the frames generator throws', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-synth-leak-'));
    const file = path.join(dir, 'clip.mp4');
    function* frames(): Generator<Uint8Array> {
      yield new Uint8Array(32 * 32 * 3).fill(40);
      yield new Uint8Array(32 * 32 * 3).fill(80);
      throw new Error('the generator broke');
    }
    await expect(writeVideo(file, frames(), { width: 32, height: 32, fps: 5 })).rejects.toThrow('the generator broke');
    expect(ffmpegChildren()).toEqual([]);
    expect(existsSync(file)).toBe(false);
    expect(await fs.readdir(dir)).toEqual([]);
    await fs.rm(dir, { recursive: true, force: true });
  });
});
