// `losa worker` as a function: take jobs from the queue until told to stop, each through the
// same job function `losa extract` runs in-process, and say what happens as lines (or NDJSON).
import { errorMessage } from '../errors.js';
import { formatMs } from '../ui/format.js';
import type { ExtractJob } from './jobs.js';
import { BackbonePool, runExtractJob, workerName, type DeviceSettings, type JobResult } from './process.js';
import { ReturnJob, startWorker } from './queue.js';
import type { RedisTarget } from './redis-url.js';
import { repeatLimited } from './run.js';

export interface ServeOptions {
  target: RedisTarget;
  queue: string;
  concurrency: number;
  stallMs: number;
  graceMs: number;
  device: DeviceSettings;
  json: boolean;
  write(line: string): void;
  /** Stop taking jobs; finish those in progress (at most graceMs), hand back the rest. */
  stop: AbortSignal;
  /** Hand back the jobs in progress now. */
  stopNow: AbortSignal;
}

export async function serve(o: ServeOptions): Promise<{ done: number; failed: number }> {
  const name = workerName();
  const say = (text: string, event: Record<string, unknown>): void => o.write(o.json ? JSON.stringify({ worker: name, ...event }) : text);
  const warn = repeatLimited((message) => say(`warning: ${message}`, { type: 'log', level: 'warn', message }));
  const pool = new BackbonePool(o.device, (spec) => {
    say(`loading backbone ${spec.config.name ?? 'vit'} (digest ${spec.digest.slice(0, 12)})`, { type: 'backbone', name: spec.config.name, digest: spec.digest });
  });
  let done = 0;
  let failed = 0;
  const job = async (data: ExtractJob, ctx: { signal: AbortSignal; progress(data: object): Promise<void> }): Promise<JobResult> => {
    await ctx.progress({ worker: name, file: data.file });
    try {
      const result = await runExtractJob(data, pool, ctx.signal, name);
      done++;
      say(`done ${result.file}: ${result.computed} of ${result.clips} clips computed in ${formatMs(result.ms)}`, { type: 'done', ...result });
      return result;
    } catch (error) {
      if (error instanceof ReturnJob || ctx.signal.aborted) say(`handed back ${data.file}`, { type: 'returned', file: data.file });
      else {
        failed++;
        say(`failed ${data.file}: ${errorMessage(error)}`, { type: 'failed', file: data.file, reason: errorMessage(error) });
      }
      throw error;
    }
  };
  const worker = await startWorker(o.target, o.queue, job, { concurrency: o.concurrency, stallMs: o.stallMs, name, onError: warn });
  const device = o.device.device ?? 'cpu';
  say(`losa worker ${name} · queue ${o.queue} on ${o.target.display} · ${o.concurrency} jobs at once · backbone on ${device}`, {
    type: 'start', queue: o.queue, redis: o.target.display, concurrency: o.concurrency, device,
  });
  if (!o.stop.aborted) await new Promise((resolve) => o.stop.addEventListener('abort', resolve, { once: true }));
  say(`stopping: finishing the jobs in progress (at most ${o.graceMs / 1000}s), then handing back the rest`, { type: 'stopping' });
  const now = (): void => worker.abortJobs();
  o.stopNow.addEventListener('abort', now, { once: true });
  try {
    await worker.close(o.graceMs);
  } finally {
    o.stopNow.removeEventListener('abort', now);
    await pool.dispose();
  }
  say(`stopped: ${done} jobs done, ${failed} failed`, { type: 'stopped', done, failed });
  return { done, failed };
}
