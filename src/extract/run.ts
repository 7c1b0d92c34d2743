// `losa extract` as a function: plan the jobs, run them (on the queue, or in this process), and
// say how it ended. The command (src/commands/extract.ts) only parses options and draws.
import { performance } from 'node:perf_hooks';
import { planExtraction, type ExtractOptions, type ExtractPlan } from './jobs.js';
import { runInProcess, runOnQueue, type RunOutcome } from './follow.js';
import type { DeviceSettings } from './process.js';
import type { ExtractEvent, ExtractSink } from './progress.js';
import { JobQueue, checkRedis } from './queue.js';
import type { RedisTarget } from './redis-url.js';

export interface ExtractSettings {
  /** The queue's Redis; without it the jobs run in this process. */
  target?: RedisTarget;
  queue: string;
  /** In-process: jobs at once. */
  workers: number;
  /** In-process: where the backbone runs. */
  device: DeviceSettings;
}

export type ExtractEnd = Extract<ExtractEvent, { type: 'end' }>;

/** The same line, at most once in this many milliseconds (a Redis outage repeats its error). */
const REPEAT_MS = 10_000;

export async function extract(
  opts: ExtractOptions, settings: ExtractSettings, ctx: { emit: ExtractSink; signal: AbortSignal; started?: number },
): Promise<ExtractEnd> {
  const started = ctx.started ?? performance.now();
  // An unreachable Redis is said before the planning (which reads every video's first bytes).
  if (settings.target) await checkRedis(settings.target);
  const plan = await planExtraction(opts, (e) => {
    if (e.type === 'log') ctx.emit({ type: 'log', level: e.level, message: e.message });
  });
  const announce = (added: number, inQueue: number): void => {
    ctx.emit({
      type: 'plan', videos: plan.videos, cached: plan.cached, jobs: plan.jobs.length, clips: plan.clips, added, inQueue,
      backbone: plan.backbone.name, cache: plan.cache.dir, ...(settings.target ? { queue: `${settings.queue} on ${settings.target.display}` } : {}),
    });
    for (const p of plan.problems) ctx.emit({ type: 'failed', job: '', file: p.file, reason: p.reason });
  };
  const outcome = settings.target ? await onQueue(plan, settings.target, settings.queue, ctx, announce) : await inProcess(plan, settings, ctx, announce);
  const failed = [...plan.problems, ...outcome.failed];
  const end: ExtractEnd = {
    type: 'end', status: outcome.stopped ? 'stopped' : failed.length > 0 ? 'failed' : 'done',
    seconds: (performance.now() - started) / 1000, done: outcome.done, failed,
  };
  ctx.emit(end);
  return end;
}

async function onQueue(
  plan: ExtractPlan, target: RedisTarget, name: string, ctx: { emit: ExtractSink; signal: AbortSignal }, announce: (added: number, inQueue: number) => void,
): Promise<RunOutcome> {
  const log = repeatLimited((message) => ctx.emit({ type: 'log', level: 'warn', message }));
  const queue = await JobQueue.open<ExtractPlan['jobs'][number]['data']>(target, name, log);
  try {
    return await runOnQueue({ queue, jobs: plan.jobs, cache: plan.cache, emit: ctx.emit, signal: ctx.signal, log, onEnqueued: announce });
  } finally {
    await queue.close();
  }
}

function inProcess(
  plan: ExtractPlan, settings: ExtractSettings, ctx: { emit: ExtractSink; signal: AbortSignal }, announce: (added: number, inQueue: number) => void,
): Promise<RunOutcome> {
  announce(plan.jobs.length, 0);
  return runInProcess({ jobs: plan.jobs, concurrency: settings.workers, device: settings.device, emit: ctx.emit, signal: ctx.signal });
}

/** `write`, dropping a line said in the last REPEAT_MS. */
export function repeatLimited(write: (line: string) => void, clock: () => number = () => performance.now()): (line: string) => void {
  const said = new Map<string, number>();
  return (line) => {
    const now = clock();
    const last = said.get(line);
    if (last !== undefined && now - last < REPEAT_MS) return;
    said.set(line, now);
    write(line);
  };
}
