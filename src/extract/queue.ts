// The job queue on Redis: the one module that knows BullMQ. The rest of losa sees a queue of
// named jobs with ids (`JobQueue`), a worker that runs a function per job (`startWorker`), and
// two errors a job function may throw: `PermanentJobError` (fail now, no retry: a video that
// cannot be read stays unreadable) and `ReturnJob` (put the job back for another worker: this
// one is shutting down). What BullMQ gives on top: retries with backoff for other errors, a
// lock per active job that its worker renews, and stalled-job recovery: a job whose worker
// stopped renewing its lock (killed, machine lost) goes back to the waiting list after
// `stallMs` and another worker takes it. Clients reconnect by themselves when Redis restarts.
import { Queue, QueueEvents, UnrecoverableError, WaitingError, Worker, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { EventEmitter } from 'node:events';
import { LosaError, errorMessage } from '../errors.js';
import { redact, type RedisTarget } from './redis-url.js';
import { DEFAULT_STALL_SECONDS } from './settings.js';

/** How long `checkRedis` waits for a connection. */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * Attempts per job (the first and two retries, 5 s then 10 s later) for errors other than a
 * PermanentJobError; completed jobs are dropped (the cache holds their result), failed ones kept
 * so that their reason can be read.
 */
const JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 5000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 100_000 },
};

/** A job that must not be retried: it fails at once with this message. */
export class PermanentJobError extends LosaError {
  override name = 'PermanentJobError';
}

/** Thrown by a job function to hand its job back to the queue (this worker is stopping). */
export class ReturnJob extends LosaError {
  override name = 'ReturnJob';
}

/** The id of a stream's last entry ('0-0' when it has none), read on a connection of its own. */
async function lastStreamId(target: RedisTarget, key: string): Promise<string> {
  const client = new Redis({ ...target.options, lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined); // a failure rejects the calls below
  try {
    await client.connect();
    const [last] = await client.xrevrange(key, '+', '-', 'COUNT', 1);
    return last?.[0] ?? '0-0';
  } finally {
    client.disconnect();
  }
}

/** One line for a Redis failure, naming the URL (password masked) and never the password. */
export function redisError(target: RedisTarget, error: unknown, doing = 'cannot reach Redis'): LosaError {
  const reason = redact(errorMessage(error), target) || 'no answer';
  return new LosaError(`${doing} at ${target.display}: ${reason}`);
}

/** Connects once, without retrying, and pings: a clear one-line error when Redis cannot be used. */
export async function checkRedis(target: RedisTarget): Promise<void> {
  let lastError: unknown;
  const client = new Redis({
    ...target.options, lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false,
    // After a failed connection there is nothing to flush: do not hold the process for ioredis's 2 s.
    disconnectTimeout: 100,
  });
  client.on('error', (error) => {
    lastError = error;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw redisError(target, lastError ?? error);
  } finally {
    client.disconnect();
  }
}

/**
 * Reports a client's errors and dropped connections (as one line each, password masked); the
 * client reconnects by itself, with BullMQ's backoff (1 s, growing to 20 s).
 */
function watchConnection(client: Queue | QueueEvents | Worker, target: RedisTarget, say: (message: string) => void): void {
  const events = client as unknown as EventEmitter;
  events.on('error', (error: Error) => say(redisError(target, error, 'Redis error').message));
  // Not in BullMQ's typed events: emitted when a connection closes while the client is not closing.
  events.on('ioredis:close', () => say(`lost the connection to Redis at ${target.display}; reconnecting`));
}

export type JobState = 'waiting' | 'active' | 'delayed' | 'prioritized' | 'waiting-children' | 'completed' | 'failed' | 'unknown';

export interface QueueEventHandlers<R> {
  /** A job started (or restarted) on a worker; `data` is what the job function reported. */
  progress(id: string, data: unknown): void;
  completed(id: string, result: R): void;
  /** A job failed for good (no attempt left, or a permanent error). */
  failed(id: string, reason: string): void;
  /** A job's worker stopped renewing its lock: the job went back to the queue. */
  stalled(id: string): void;
}

/** The producer's side: adds jobs, reads their states, follows their events. */
export class JobQueue<D> {
  private constructor(private readonly queue: Queue, private readonly target: RedisTarget) {}

  static async open<D>(target: RedisTarget, name: string, onError: (message: string) => void): Promise<JobQueue<D>> {
    await checkRedis(target);
    const queue = new Queue(name, { connection: { ...target.options } });
    watchConnection(queue, target, onError);
    return new JobQueue<D>(queue, target);
  }

  /**
   * Adds the jobs that are not already waiting or running; a finished job with the same id (its
   * result is gone from the cache, or it failed) is replaced. Returns the ids added and those
   * already in the queue.
   */
  async enqueue(jobs: { id: string; name: string; data: D }[]): Promise<{ added: string[]; inQueue: string[] }> {
    const states = await this.states(jobs.map((j) => j.id));
    const added: string[] = [];
    const inQueue: string[] = [];
    const fresh: typeof jobs = [];
    for (const job of jobs) {
      const state = states.get(job.id)!;
      if (state === 'completed' || state === 'failed') await this.queue.remove(job.id);
      if (state === 'unknown' || state === 'completed' || state === 'failed') fresh.push(job);
      else inQueue.push(job.id);
    }
    for (let i = 0; i < fresh.length; i += 500) {
      const chunk = fresh.slice(i, i + 500);
      await this.queue.addBulk(chunk.map((j) => ({ name: j.name, data: j.data, opts: { ...JOB_OPTIONS, jobId: j.id } })));
      added.push(...chunk.map((j) => j.id));
    }
    return { added, inQueue };
  }

  /** The state of each job id ('unknown' when the queue does not hold it). */
  async states(ids: string[]): Promise<Map<string, JobState>> {
    const out = new Map<string, JobState>();
    for (let i = 0; i < ids.length; i += 200) {
      const chunk = ids.slice(i, i + 200);
      const states = await Promise.all(chunk.map((id) => this.queue.getJobState(id)));
      chunk.forEach((id, k) => out.set(id, states[k] as JobState));
    }
    return out;
  }

  /** Why a failed job failed. */
  async failedReason(id: string): Promise<string | undefined> {
    const job = await this.queue.getJob(id);
    return job?.failedReason ? redact(job.failedReason, this.target) : undefined;
  }

  /** Workers connected to the queue, or undefined where the server does not say (CLIENT LIST refused). */
  async workers(): Promise<number | undefined> {
    return this.queue.getWorkersCount().catch(() => undefined);
  }

  /** Follows the queue's events until the returned function is called. */
  async follow<R>(handlers: QueueEventHandlers<R>, onError: (message: string) => void): Promise<() => Promise<void>> {
    // Read from the events stream's last entry now, not from '$' (the default): QueueEvents
    // issues its first read some time after it reports ready, and with '$' what a worker writes
    // in between (a job taken at once, its first progress) was never heard.
    const lastEventId = await lastStreamId(this.target, this.queue.keys['events']!);
    const events = new QueueEvents(this.queue.name, { connection: { ...this.target.options }, lastEventId });
    watchConnection(events, this.target, onError);
    events.on('progress', ({ jobId, data }) => handlers.progress(jobId, data));
    events.on('completed', ({ jobId, returnvalue }) => handlers.completed(jobId, returnvalue as R));
    events.on('stalled', ({ jobId }) => handlers.stalled(jobId));
    events.on('failed', ({ jobId, failedReason }) => {
      // A failed attempt with attempts left goes on to be retried: only a job failed for good counts.
      void this.queue.getJobState(jobId).then((state) => {
        if (state === 'failed') handlers.failed(jobId, redact(failedReason, this.target));
      }, () => undefined);
    });
    await events.waitUntilReady();
    return () => events.close();
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

export interface JobContext {
  id: string;
  /** Aborted when the job must stop (its worker is shutting down past its grace period). */
  signal: AbortSignal;
  /** Tells whoever follows the queue about this job (its worker, what it is doing). */
  progress(data: object): Promise<void>;
}

export interface WorkerOptions {
  /** Jobs at once. */
  concurrency: number;
  /** Milliseconds without a lock renewal before a job counts as stalled (default DEFAULT_STALL_SECONDS). */
  stallMs?: number;
  /** This worker's name, stored on the jobs it takes. */
  name: string;
  onError(message: string): void;
}

export interface QueueWorker {
  /**
   * Takes no new job; waits for the jobs in progress, at most `graceMs`, then aborts them and
   * hands them back to the queue; then disconnects.
   */
  close(graceMs: number): Promise<void>;
  /** Aborts the jobs in progress now: they go back to the queue. */
  abortJobs(): void;
}

export async function startWorker<D, R>(
  target: RedisTarget, queueName: string, run: (data: D, ctx: JobContext) => Promise<R>, options: WorkerOptions,
): Promise<QueueWorker> {
  await checkRedis(target);
  const stallMs = options.stallMs ?? DEFAULT_STALL_SECONDS * 1000;
  const worker = new Worker<D, R>(queueName, async (job, token, signal) => {
    const ctx: JobContext = { id: job.id!, signal: signal ?? new AbortController().signal, progress: (data) => job.updateProgress(data) };
    try {
      return await run(job.data, ctx);
    } catch (error) {
      if (error instanceof ReturnJob || ctx.signal.aborted) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (error instanceof PermanentJobError) throw new UnrecoverableError(error.message);
      throw error;
    }
  }, {
    connection: { ...target.options }, concurrency: options.concurrency, name: options.name,
    lockDuration: stallMs, stalledInterval: stallMs,
    // A job may lose two workers (killed, machine gone) before it fails.
    maxStalledCount: 2,
  });
  watchConnection(worker, target, options.onError);
  await worker.waitUntilReady();
  return {
    abortJobs: () => worker.cancelAllJobs('the worker is stopping'),
    async close(graceMs) {
      const timer = setTimeout(() => worker.cancelAllJobs('the worker is stopping'), graceMs);
      try {
        await worker.close();
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
