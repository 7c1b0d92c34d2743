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

/** A promise resolved from outside (loads finish when the test says so, not after some time). */
function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

/** Lets every callback already due run (p-queue starts loads in microtasks and ticks); no clock involved. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('prefetch', () => {
  it('yields in input order with at most `concurrency` loads at once, whatever order they finish in', async () => {
    const items = Array.from({ length: 12 }, (_, i) => i);
    const gates = items.map(() => deferred<void>());
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const r of prefetch(items, async (x) => {
        running++;
        most = Math.max(most, running);
        await gates[x]!.promise;
        running--;
        return x * 10;
      }, { concurrency: 3, prefetch: 6 })) {
        expect(r.value).toBe(r.item * 10);
        expect(r.index).toBe(r.item);
        seen.push(r.item);
      }
    })();
    // Finish the loads in a scrambled order, letting the queue move between releases.
    for (const x of [2, 0, 1, 5, 3, 4, 8, 6, 7, 11, 9, 10]) {
      await settle();
      expect(running).toBeLessThanOrEqual(3);
      gates[x]!.resolve();
    }
    await consumer;
    expect(seen).toEqual(items);
    expect(most).toBe(3);
  });

  it('a stalled consumer stops the loaders after `prefetch` items', async () => {
    for (const ahead of [0, 2, 5]) {
      let started = 0;
      const stream = prefetch(Array.from({ length: 50 }, (_, i) => i), async (x) => {
        started++;
        return x;
      }, { concurrency: 2, prefetch: ahead });
      const first = await stream.next();
      expect(first.value).toMatchObject({ index: 0, value: 0 });
      // The consumer holds item 0 and stalls: loads may run up to item `ahead`, no further.
      await settle();
      expect(started).toBe(1 + ahead);
      await stream.next();
      await settle();
      expect(started).toBe(2 + ahead);
      await stream.return(undefined);
      await settle();
      expect(started).toBe(2 + ahead);
    }
  });

  it('draws from an async iterable only as loads start, and closes it when the consumer stops', async () => {
    let drawn = 0;
    let closed = false;
    async function* source(): AsyncGenerator<number> {
      try {
        for (let i = 0; i < 100; i++) {
          drawn++;
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    const stream = prefetch(source(), async (x) => x * 2, { concurrency: 2, prefetch: 3 });
    expect((await stream.next()).value).toMatchObject({ index: 0, value: 0 });
    await settle();
    expect(drawn).toBe(4);
    expect((await stream.next()).value).toMatchObject({ index: 1, value: 2 });
    await stream.return(undefined);
    expect(closed).toBe(true);
    expect(drawn).toBe(5);
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
