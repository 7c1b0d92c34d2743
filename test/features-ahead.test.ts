// chunksAhead: every entry in order, a stream's chunks in order, and the read-ahead bounded:
// while the consumer holds a chunk, the next chunk of its stream and the first chunk of each of
// the next `width - 1` streams have been asked for, no more. A failing stream is one error
// event; stopping early ends every open stream.
import { describe, expect, it } from 'vitest';
import { chunksAhead, type AheadEvent } from '../src/features/ahead.js';

async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

/** A stream of `n` chunks named `${name}${i}` that records each chunk asked for, and its end. */
function recorded(name: string, n: number, log: string[], failAt?: number): AsyncGenerator<string> {
  return (async function* () {
    try {
      for (let i = 0; i < n; i++) {
        log.push(`${name}${i}`);
        if (i === failAt) throw new Error(`${name} broke`);
        await new Promise((r) => setTimeout(r, 1));
        yield `${name}${i}`;
      }
    } finally {
      log.push(`${name} closed`);
    }
  })();
}

function describeEvent(e: AheadEvent<string, string>): string {
  return e.kind === 'chunk' ? e.chunk : e.kind === 'error' ? `${e.entry}: ${e.error.message}` : `${e.entry} ${e.kind}`;
}

describe('chunksAhead', () => {
  it('hands over entries and chunks in order, decoding a chunk ahead and the next stream beside', async () => {
    const asked: string[] = [];
    const seen: string[] = [];
    const aheadAtEach: number[] = [];
    const lengths: Record<string, number> = { a: 3, b: 2, c: 2 };
    const open = (e: string) => (e === 'hit' ? null : recorded(e, lengths[e]!, asked));
    for await (const event of chunksAhead(from(['a', 'hit', 'b', 'c']), open, 2)) {
      seen.push(describeEvent(event));
      if (event.kind === 'chunk') aheadAtEach.push(asked.filter((x) => !x.endsWith('closed')).length - seen.filter((x) => /^[abc]\d$/.test(x)).length);
    }
    expect(seen).toEqual(['a0', 'a1', 'a2', 'a end', 'hit ready', 'b0', 'b1', 'b end', 'c0', 'c1', 'c end']);
    // Chunks asked for but not yet handed over: at most the next of this stream and the first of the one beside it.
    expect(Math.max(...aheadAtEach)).toBeLessThanOrEqual(2);
    expect(Math.max(...aheadAtEach)).toBeGreaterThan(0);
  });

  it('turns a failing stream into one error event and goes on with the next', async () => {
    const asked: string[] = [];
    const seen: string[] = [];
    for await (const event of chunksAhead(from(['a', 'b']), (e) => recorded(e, 3, asked, e === 'a' ? 1 : undefined), 2)) seen.push(describeEvent(event));
    expect(seen).toEqual(['a0', 'a: a broke', 'b0', 'b1', 'b2', 'b end']);
  });

  it('ends every open stream when the consumer stops early', async () => {
    const asked: string[] = [];
    for await (const event of chunksAhead(from(['a', 'b', 'c']), (e) => recorded(e, 5, asked), 2)) {
      if (event.kind === 'chunk' && event.chunk === 'a1') break;
    }
    expect(asked).toContain('a closed');
    expect(asked).toContain('b closed');
    expect(asked.some((x) => x.startsWith('c'))).toBe(false);
  });
});
