// The chunks of many streams, in order, decoded ahead of the consumer: while it works on a
// chunk of stream k (the backbone's forward pass), the next chunk of k and the first chunk of
// each of the next `width - 1` streams are being decoded. Decoding so hides behind compute as
// it did when whole clips were prefetched, but what is held is a few chunks of frames,
// whatever the clips' length: at most one chunk per open stream plus the one being worked on.

/** What the consumer sees, in the order of `entries`. */
export type AheadEvent<E, C> =
  /** An entry with no stream (a cache hit, or one that failed to open). */
  | { entry: E; kind: 'ready' }
  | { entry: E; kind: 'chunk'; chunk: C }
  /** The entry's stream is through: every chunk of it has been handed over. */
  | { entry: E; kind: 'end' }
  /** The entry's stream failed: chunks handed over before are the only ones it gives. */
  | { entry: E; kind: 'error'; error: Error };

type Pull<C> = { value?: C; done?: boolean; error?: Error };

interface Open<E, C> {
  entry: E;
  stream?: AsyncGenerator<C>;
  /** The read-ahead: the stream's next chunk, being decoded. Settles, never rejects. */
  pending?: Promise<Pull<C>>;
}

function pull<C>(stream: AsyncGenerator<C>): Promise<Pull<C>> {
  return stream.next().then(
    (r) => (r.done ? { done: true } : { value: r.value }),
    (error: unknown) => ({ error: error instanceof Error ? error : new Error(String(error)) }),
  );
}

/**
 * Every entry of `entries` in order; `open(entry)` gives its stream of chunks, or null when it
 * has none. At most `width` entries are open at once, each with one chunk read ahead.
 * Stopping early (break, or a throw in the consumer) ends the open streams.
 */
export async function* chunksAhead<E, C>(
  entries: AsyncIterable<E>,
  open: (entry: E) => AsyncGenerator<C> | null,
  width: number,
): AsyncGenerator<AheadEvent<E, C>> {
  const source = entries[Symbol.asyncIterator]();
  const window: Open<E, C>[] = [];
  let exhausted = false;
  const fill = async (): Promise<void> => {
    while (!exhausted && window.length < Math.max(1, width)) {
      const next = await source.next();
      if (next.done) {
        exhausted = true;
        return;
      }
      const stream = open(next.value) ?? undefined;
      window.push({ entry: next.value, stream, pending: stream && pull(stream) });
    }
  };
  try {
    for (await fill(); window.length > 0; await fill()) {
      const head = window[0]!;
      if (!head.stream) {
        window.shift();
        yield { entry: head.entry, kind: 'ready' };
        continue;
      }
      const got = await head.pending!;
      if (got.error || got.done) {
        window.shift();
        yield got.error ? { entry: head.entry, kind: 'error', error: got.error } : { entry: head.entry, kind: 'end' };
        continue;
      }
      head.pending = pull(head.stream); // the next chunk decodes while this one is worked on
      yield { entry: head.entry, kind: 'chunk', chunk: got.value! };
    }
  } finally {
    // A generator runs one request at a time: each return waits for its read-ahead to settle.
    await Promise.all(window.map(async (o) => {
      await o.pending;
      await o.stream?.return(undefined).catch(() => undefined);
    }));
    if (!exhausted) await source.return?.(undefined);
  }
}
