// Load many items concurrently (p-queue), yield their results in input order, and never run
// further ahead of the consumer than `prefetch` items: memory is bounded by the settings, not
// by the data set, and a consumer slower than the loaders stops them. The items may come from
// an array or from any iterable, async ones included; they are drawn only as loads start.
import PQueue from 'p-queue';
import { expected } from '../errors.js';

export interface PrefetchOptions {
  /** Loads running at once (≥ 1). */
  concurrency: number;
  /** Items started beyond the one the consumer holds (≥ 0). */
  prefetch: number;
}

export interface PrefetchResult<I, R> {
  item: I;
  index: number;
  value?: R;
  error?: Error;
}

/**
 * Yields `{ item, index, value }` for every item in order, or `{ item, index, error }` when its
 * load failed (the others go on). While the consumer holds item k, items up to k + prefetch
 * may be started; none beyond. Stopping early (break) drops the loads not yet started.
 */
export async function* prefetch<I, R>(
  items: Iterable<I> | AsyncIterable<I>,
  load: (item: I, index: number) => Promise<R>,
  options: PrefetchOptions,
): AsyncGenerator<PrefetchResult<I, R>> {
  const { concurrency, prefetch: ahead } = options;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw expected('concurrency', 'an integer ≥ 1', concurrency);
  if (!Number.isSafeInteger(ahead) || ahead < 0) throw expected('prefetch', 'an integer ≥ 0', ahead);
  const queue = new PQueue({ concurrency });
  const source: Iterator<I> | AsyncIterator<I> = Symbol.asyncIterator in items
    ? (items as AsyncIterable<I>)[Symbol.asyncIterator]()
    : (items as Iterable<I>)[Symbol.iterator]();
  // Started loads, oldest first. Each promise settles to a result, never rejects, so an
  // unconsumed failure cannot become an unhandled rejection.
  const started: Promise<PrefetchResult<I, R>>[] = [];
  let next = 0;
  let exhausted = false;
  const fill = async (size: number): Promise<void> => {
    while (!exhausted && started.length < size) {
      const drawn = await source.next();
      if (drawn.done) {
        exhausted = true;
        return;
      }
      const item = drawn.value;
      const index = next++;
      started.push(queue.add(async () => {
        try {
          return { item, index, value: await load(item, index) };
        } catch (error) {
          return { item, index, error: error instanceof Error ? error : new Error(String(error)) };
        }
      }) as Promise<PrefetchResult<I, R>>);
    }
  };
  try {
    // The item to hand over next and the `ahead` items after it.
    for (await fill(1 + ahead); started.length > 0; await fill(1 + ahead)) yield await started.shift()!;
  } finally {
    queue.clear();
    if (!exhausted) await source.return?.();
  }
}
