// Running the planned jobs: on the queue (added, then followed through the queue's events until
// each has finished), or in this process with the same job function. Both tell the screen the
// same ExtractEvents. Following does not trust the event stream alone: events can be lost while
// Redis restarts, so whenever the events go quiet the jobs still pending are looked up (their
// state, or for a job gone from the queue, whether its entries are in the cache).
import { errorMessage } from '../errors.js';
import { viewCacheKey, type FeatureCache } from '../features/index.js';
import type { PlannedJob } from './jobs.js';
import { BackbonePool, runExtractJob, type DeviceSettings, type JobResult } from './process.js';
import type { ExtractSink } from './progress.js';
import { ReturnJob, type JobQueue } from './queue.js';

export interface RunOutcome {
  done: number;
  failed: { file: string; reason: string }[];
  stopped: boolean;
}

/** How often pending jobs are looked up when no event came in between. */
const RECONCILE_MS = 2000;

export interface FollowOptions {
  queue: JobQueue<PlannedJob['data']>;
  jobs: PlannedJob[];
  cache: FeatureCache;
  emit: ExtractSink;
  signal: AbortSignal;
  /** Lines about the connection, at most one a few seconds. */
  log(message: string): void;
  /** Called once the jobs are in the queue: how many were added, how many were there already. */
  onEnqueued(added: number, inQueue: number): void;
}

/** Adds the jobs to the queue and follows them until each is done or failed (or the signal). */
export async function runOnQueue(o: FollowOptions): Promise<RunOutcome> {
  const byId = new Map(o.jobs.map((j) => [j.id, j]));
  const outcome: RunOutcome = { done: 0, failed: [], stopped: false };
  let settle: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (settle = resolve));
  let heard = false;
  const finish = (id: string, failure?: string): void => {
    const job = byId.get(id);
    if (!job) return;
    byId.delete(id);
    if (failure === undefined) outcome.done++;
    else outcome.failed.push({ file: job.data.file, reason: failure });
    if (byId.size === 0) settle();
  };
  const stop = await o.queue.follow<JobResult>({
    progress(id, data) {
      heard = true;
      const worker = (data as { worker?: unknown } | undefined)?.worker;
      if (byId.has(id) && typeof worker === 'string') o.emit({ type: 'active', job: id, file: byId.get(id)!.data.file, worker });
    },
    completed(id, result) {
      heard = true;
      if (!byId.has(id)) return;
      o.emit({ type: 'done', job: id, ...result });
      finish(id);
    },
    failed(id, reason) {
      heard = true;
      if (!byId.has(id)) return;
      o.emit({ type: 'failed', job: id, file: byId.get(id)!.data.file, reason });
      finish(id, reason);
    },
    stalled(id) {
      if (byId.has(id)) o.emit({ type: 'stalled', job: id, file: byId.get(id)!.data.file });
    },
  }, o.log);
  const onAbort = (): void => {
    outcome.stopped = true;
    settle();
  };
  o.signal.addEventListener('abort', onAbort, { once: true });
  let workers: number | undefined;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    const quiet = !heard;
    heard = false;
    void (async () => {
      const count = await o.queue.workers();
      if (count !== undefined && count !== workers) o.emit({ type: 'workers', count: (workers = count) });
      if (quiet) await reconcile(o, byId, finish);
    })().catch((error: unknown) => o.log(errorMessage(error))).finally(() => (busy = false));
  }, RECONCILE_MS);
  try {
    const { added, inQueue } = await o.queue.enqueue(o.jobs.map((j) => ({ id: j.id, name: 'extract', data: j.data })));
    o.onEnqueued(added.length, inQueue.length);
    if (byId.size > 0) await finished;
  } finally {
    clearInterval(timer);
    o.signal.removeEventListener('abort', onAbort);
    await stop();
  }
  return outcome;
}

/** Looks up the pending jobs: finished ones whose events were missed are counted. */
async function reconcile(o: FollowOptions, byId: Map<string, PlannedJob>, finish: (id: string, failure?: string) => void): Promise<void> {
  const states = await o.queue.states([...byId.keys()]);
  for (const [id, state] of states) {
    const job = byId.get(id);
    if (!job) continue;
    if (state === 'failed') {
      const reason = (await o.queue.failedReason(id)) ?? 'failed';
      o.emit({ type: 'failed', job: id, file: job.data.file, reason });
      finish(id, reason);
    } else if (state === 'completed' || state === 'unknown') {
      // A completed job, or one gone from the queue (completed jobs are dropped after a while):
      // its entries tell whether it was done.
      const done = state === 'completed' || (await entriesPresent(o.cache, job));
      const reason = 'the job left the queue without its features (was the queue emptied?)';
      o.emit(done ? { type: 'done', job: id, file: job.data.file, clips: job.clips, computed: 0, ms: 0 } : { type: 'failed', job: id, file: job.data.file, reason });
      finish(id, done ? undefined : reason);
    }
  }
}

async function entriesPresent(cache: FeatureCache, job: PlannedJob): Promise<boolean> {
  const keys = await Promise.all(job.data.views.map((plan) => viewCacheKey(cache, job.data.file, plan)));
  return (await Promise.all(keys.map((k) => cache.has(k)))).every(Boolean);
}

export interface LocalOptions {
  jobs: PlannedJob[];
  /** Jobs at once (each with one decoder; they share one backbone). */
  concurrency: number;
  device: DeviceSettings;
  emit: ExtractSink;
  signal: AbortSignal;
}

/** The same jobs in this process: no Redis, one backbone, `concurrency` jobs at once. */
export async function runInProcess(o: LocalOptions): Promise<RunOutcome> {
  const pool = new BackbonePool(o.device);
  const outcome: RunOutcome = { done: 0, failed: [], stopped: false };
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < o.jobs.length && !o.signal.aborted) {
      const job = o.jobs[next++]!;
      o.emit({ type: 'active', job: job.id, file: job.data.file, worker: 'local' });
      try {
        const result = await runExtractJob(job.data, pool, o.signal, 'local');
        o.emit({ type: 'done', job: job.id, ...result });
        outcome.done++;
      } catch (error) {
        if (error instanceof ReturnJob) break;
        const reason = errorMessage(error);
        o.emit({ type: 'failed', job: job.id, file: job.data.file, reason });
        outcome.failed.push({ file: job.data.file, reason });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.concurrency, o.jobs.length) }, runner));
  } finally {
    await pool.dispose();
  }
  outcome.stopped = o.signal.aborted;
  return outcome;
}
