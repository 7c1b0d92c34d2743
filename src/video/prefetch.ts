// Load many items concurrently (p-queue), yield their results in input order, and never run
// further ahead of the consumer than `prefetch` items: memory is bounded by the settings, not
// by the data set, and a consumer slower than the loaders stops them.
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
  items: readonly I[],
  load: (item: I, index: number) => Promise<R>,
  options: PrefetchOptions,
): AsyncGenerator<PrefetchResult<I, R>> {
  const { concurrency, prefetch: ahead } = options;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw expected('concurrency', 'an integer ≥ 1', concurrency);
  if (!Number.isSafeInteger(ahead) || ahead < 0) throw expected('prefetch', 'an integer ≥ 0', ahead);
  const queue = new PQueue({ concurrency });
  const started = new Map<number, Promise<PrefetchResult<I, R>>>();
  let next = 0;
  // Schedule items up to (and including) index `last`. Each promise settles to a result,
  // never rejects, so an unconsumed failure cannot become an unhandled rejection.
  const scheduleThrough = (last: number): void => {
    for (; next <= last && next < items.length; next++) {
      const index = next;
      const item = items[index]!;
      const settled = queue.add(async () => {
        try {
          return { item, index, value: await load(item, index) };
        } catch (error) {
          return { item, index, error: error instanceof Error ? error : new Error(String(error)) };
        }
      }) as Promise<PrefetchResult<I, R>>;
      started.set(index, settled);
    }
  };
  try {
    for (let k = 0; k < items.length; k++) {
      scheduleThrough(k + ahead);
      const result = await started.get(k)!;
      started.delete(k);
      yield result;
    }
  } finally {
    queue.clear();
  }
}
