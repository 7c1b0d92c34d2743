// What `losa extract` tells the screen while it follows a run, as typed events (printed as they
// are with --json), and the state the dashboard and the plain lines are drawn from: jobs done,
// failed and active, clips per second per worker and in total, and the time left. The clock is
// passed in, so the rates are computed the same way in tests as on a terminal.

export type ExtractEvent =
  | {
      type: 'plan';
      /** Videos of the data set, those whose entries are all cached, and the jobs to follow. */
      videos: number;
      cached: number;
      jobs: number;
      clips: number;
      /** Of the jobs: added now, and already in the queue (an earlier extract's, still running). */
      added: number;
      inQueue: number;
      backbone: string;
      cache: string;
      /** The queue (`name on redis://…`, password masked), or absent when working in-process. */
      queue?: string;
    }
  | { type: 'active'; job: string; file: string; worker: string }
  /** `worker` is absent for a job found done by looking it up (its event was missed). */
  | { type: 'done'; job: string; file: string; worker?: string; clips: number; computed: number; ms: number }
  | { type: 'failed'; job: string; file: string; reason: string }
  /** A job's worker vanished (killed, machine lost): the job went back to the queue. */
  | { type: 'stalled'; job: string; file: string }
  | { type: 'workers'; count: number }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | { type: 'end'; status: 'done' | 'failed' | 'stopped'; seconds: number; done: number; failed: { file: string; reason: string }[] };

export type ExtractSink = (event: ExtractEvent) => void;

export interface WorkerStats {
  name: string;
  jobs: number;
  /** Clips computed (not found in the cache) by this worker. */
  computed: number;
  active: number;
  /** Clock time of the worker's first job start seen. */
  since: number;
}

export interface ExtractState {
  startedAt: number;
  now: number;
  plan?: Extract<ExtractEvent, { type: 'plan' }>;
  done: number;
  /** Clips of the jobs done, and those computed (the rest came from the cache). */
  clips: number;
  computed: number;
  failed: { file: string; reason: string }[];
  /** Active jobs and their worker. */
  active: Map<string, string>;
  workers: Map<string, WorkerStats>;
  /** Workers connected to the queue, when the server says. */
  connected?: number;
  /** Clock time of the first job start seen: the rates run from there. */
  firstActive?: number;
  logs: string[];
  end?: Extract<ExtractEvent, { type: 'end' }>;
}

/** Log lines the dashboard keeps. */
const KEPT_LOGS = 4;

export function initialExtractState(now: number): ExtractState {
  return { startedAt: now, now, done: 0, clips: 0, computed: 0, failed: [], active: new Map(), workers: new Map(), logs: [] };
}

/** The state after `event`, at clock time `now` (a new object; maps are copied when changed). */
export function reduceExtract(state: ExtractState, event: ExtractEvent, now: number): ExtractState {
  const next: ExtractState = { ...state, now };
  switch (event.type) {
    case 'plan':
      return { ...next, plan: event };
    case 'active': {
      next.active = new Map(state.active).set(event.job, event.worker);
      next.workers = withWorker(state, event.worker, now, (w) => ({ ...w, active: w.active + 1 }));
      // The job may have been active elsewhere before (a stalled job taken again).
      const before = state.active.get(event.job);
      if (before && before !== event.worker) next.workers = withWorker(next, before, now, (w) => ({ ...w, active: Math.max(0, w.active - 1) }));
      next.firstActive ??= now;
      return next;
    }
    case 'done':
      next.done++;
      next.clips += event.clips;
      next.computed += event.computed;
      next.active = without(state.active, event.job);
      if (event.worker !== undefined) {
        next.workers = withWorker(state, event.worker, now, (w) => ({
          ...w, jobs: w.jobs + 1, computed: w.computed + event.computed, active: Math.max(0, w.active - (state.active.get(event.job) === event.worker ? 1 : 0)),
        }));
      }
      next.firstActive ??= now;
      return next;
    case 'failed':
    case 'stalled': {
      const worker = state.active.get(event.job);
      next.active = without(state.active, event.job);
      if (worker) next.workers = withWorker(state, worker, now, (w) => ({ ...w, active: Math.max(0, w.active - 1) }));
      if (event.type === 'failed') next.failed = [...state.failed, { file: event.file, reason: event.reason }];
      return next;
    }
    case 'workers':
      return { ...next, connected: event.count };
    case 'log':
      return { ...next, logs: [...state.logs, event.message].slice(-KEPT_LOGS) };
    case 'end':
      return { ...next, end: event };
  }
}

function withWorker(state: ExtractState, name: string, now: number, change: (w: WorkerStats) => WorkerStats): Map<string, WorkerStats> {
  const current = state.workers.get(name) ?? { name, jobs: 0, computed: 0, active: 0, since: now };
  return new Map(state.workers).set(name, change(current));
}

function without<K, V>(map: Map<K, V>, key: K): Map<K, V> {
  if (!map.has(key)) return map;
  const copy = new Map(map);
  copy.delete(key);
  return copy;
}

export interface ExtractRates {
  /** Clips computed per second, all workers together, since the first job started. */
  clipsPerSecond: number;
  perWorker: { name: string; clipsPerSecond: number; jobs: number; active: number }[];
  /** Seconds left at the pace so far (jobs per second); undefined before the first job is done. */
  etaSeconds?: number;
}

export function extractRates(state: ExtractState): ExtractRates {
  const since = (t: number | undefined): number => (t === undefined ? 0 : Math.max(state.now - t, 1) / 1000);
  const elapsed = since(state.firstActive);
  const finished = state.done + state.failed.length;
  const left = (state.plan?.jobs ?? 0) - finished;
  return {
    clipsPerSecond: elapsed > 0 ? state.computed / elapsed : 0,
    perWorker: [...state.workers.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((w) => ({ name: w.name, clipsPerSecond: w.computed / since(w.since), jobs: w.jobs, active: w.active })),
    ...(finished > 0 && elapsed > 0 ? { etaSeconds: (Math.max(left, 0) * elapsed) / finished } : {}),
  };
}
