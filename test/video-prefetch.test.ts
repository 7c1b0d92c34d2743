// Bounded prefetch: input order, concurrency cap, a stalled consumer stops the loaders,
// failures are yielded and the rest goes on; with real clips, bad files are skipped.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRng } from '../src/random.js';
import { loadClips } from '../src/video/clip.js';
import { prefetch } from '../src/video/prefetch.js';
import { writeVideo } from '../src/video/synth.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('prefetch', () => {
  it('yields in input order with at most `concurrency` loads at once', async () => {
    let running = 0;
    let most = 0;
    const items = Array.from({ length: 12 }, (_, i) => i);
    const delays = [30, 5, 20, 1, 15, 2, 25, 3, 10, 4, 8, 6];
    const seen: number[] = [];
    for await (const r of prefetch(items, async (x) => {
      running++;
      most = Math.max(most, running);
      await sleep(delays[x]!);
      running--;
      return x * 10;
    }, { concurrency: 3, prefetch: 6 })) {
      expect(r.value).toBe(r.item * 10);
      expect(r.index).toBe(r.item);
      seen.push(r.item);
    }
    expect(seen).toEqual(items);
    expect(most).toBe(3);
  });

  it('a stalled consumer stops the loaders after `prefetch` items', async () => {
    for (const ahead of [0, 2, 5]) {
      let started = 0;
      const stream = prefetch(Array.from({ length: 50 }, (_, i) => i), async (x) => {
        started++;
        await sleep(1);
        return x;
      }, { concurrency: 2, prefetch: ahead });
      const first = await stream.next();
      expect(first.value).toMatchObject({ index: 0, value: 0 });
      // The consumer holds item 0 and stalls: loads may run up to item `ahead`, no further.
      await sleep(150);
      expect(started).toBe(1 + ahead);
      await stream.next();
      await sleep(100);
      expect(started).toBe(2 + ahead);
      await stream.return(undefined);
      await sleep(50);
      expect(started).toBe(2 + ahead);
    }
  });

  it('yields failures as errors and goes on', async () => {
    const results = [];
    for await (const r of prefetch(['a', 'bad', 'c', 'worse', 'e'], async (s) => {
      if (s.includes('bad') || s === 'worse') throw new Error(`${s}: broken`);
      return s.toUpperCase();
    }, { concurrency: 2, prefetch: 1 })) {
      results.push(r.error ? `error ${r.error.message}` : r.value);
    }
    expect(results).toEqual(['A', 'error bad: broken', 'C', 'error worse: broken', 'E']);
  });

  it('rejects bad settings', async () => {
    await expect(prefetch([1], async (x) => x, { concurrency: 0, prefetch: 1 }).next()).rejects.toThrow(/concurrency/);
    await expect(prefetch([1], async (x) => x, { concurrency: 1, prefetch: -1 }).next()).rejects.toThrow(/prefetch/);
  });

  it('skips unreadable videos in a clip loop and names them', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-prefetch-'));
    try {
      const good = path.join(dir, 'good.mp4');
      await writeVideo(good, Array.from({ length: 6 }, (_, i) => new Uint8Array(32 * 32 * 3).fill(i * 40)), { width: 32, height: 32, fps: 6 });
      const empty = path.join(dir, 'empty.mp4');
      await fs.writeFile(empty, '');
      const text = path.join(dir, 'notes.mp4');
      await fs.writeFile(text, 'not a video\n');
      const files = [good, path.join(dir, 'missing.mp4'), empty, good, text];
      const out: string[] = [];
      for await (const r of prefetch(files, (f) => loadClips(f, { numFrames: 4, size: 16, mode: 'test' }, createRng(0)), { concurrency: 2, prefetch: 2 })) {
        out.push(r.error ? r.error.message : `ok ${r.value!.clips.length}`);
      }
      expect(out[0]).toBe('ok 1');
      expect(out[1]).toBe(`${path.join(dir, 'missing.mp4')}: no such file`);
      expect(out[2]).toBe(`${empty}: empty file (0 bytes)`);
      expect(out[3]).toBe('ok 1');
      expect(out[4]).toMatch(new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a readable video`));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
