// The dashboard's state, built from events by a pure reducer. The Ink view and the tests read
// it; nothing here knows about terminals. Times are milliseconds from any monotonic clock.
import type { EpochSummary, LosaEvent, RunInfo } from '../train/events.js';

export type StepEvent = Extract<LosaEvent, { type: 'step' }>;
export type EndEvent = Extract<LosaEvent, { type: 'end' }>;
export type CheckpointEvent = Extract<LosaEvent, { type: 'checkpoint' }>;

/** Lines printed once above the live area (Ink `<Static>`), in arrival order. */
export type StaticItem =
  | { key: string; kind: 'header'; run: RunInfo }
  | { key: string; kind: 'table-head' }
  | { key: string; kind: 'epoch'; summary: EpochSummary; epochs?: number }
  | { key: string; kind: 'log'; level: 'info' | 'warn'; message: string };

/**
 * The static lines as an append-only list shared by successive states: a state sees the first
 * `length` items of `all`. Appending to the latest state pushes in place, so N messages cost N
 * pushes (copying the list on every event cost N²/2 copied slots: a minute for 25,000 of them);
 * appending to an older state, whose list has grown since, copies its own part first.
 */
export interface StaticLog {
  readonly all: StaticItem[];
  readonly length: number;
}

/** A static item before it has its key (by default, its kind and place). */
type NewStaticItem = StaticItem extends infer I ? (I extends StaticItem ? Omit<I, 'key'> & { key?: string } : never) : never;

/** `log` with `item` after its last line (`log` itself still sees what it saw). */
export function appendStatic(log: StaticLog, item: NewStaticItem): StaticLog {
  const all = log.all.length === log.length ? log.all : log.all.slice(0, log.length);
  all.push({ ...item, key: item.key ?? `${item.kind}-${all.length}` } as StaticItem);
  return { all, length: all.length };
}

/** The lines a state sees, as an array of their own (a new one each time the log grows). */
export function staticItems(log: StaticLog): StaticItem[] {
  return log.all.slice(0, log.length);
}

export interface EpochProgress {
  epoch: number;
  epochs: number;
  steps: number;
  fromCache: boolean;
  startedAt: number;
  stepInEpoch: number;
  /** Steps of this epoch done before this session (a resumed run), from its first step event. */
  baseStep?: number;
  /** Time of the epoch's last step event, to tell training time from validation time. */
  lastStepAt?: number;
}

export interface DashboardState {
  run?: RunInfo;
  startedAt?: number;
  /** Render time; the view computes elapsed times and ETAs from it. */
  now: number;
  epoch?: EpochProgress;
  lastStep?: StepEvent;
  /** Losses of the most recent steps, oldest first (for the sparkline). */
  recentLosses: number[];
  validating?: { epoch: number; done: number; total: number };
  finished: EpochSummary[];
  /** Seconds the last finished epoch spent outside its training steps (validation, saving). */
  epochOverheadSeconds: number;
  staticLog: StaticLog;
  skipped: number;
  lastSkip?: { path: string; reason: string };
  lastCheckpoint?: CheckpointEvent & { at: number; epoch?: number };
  /** Set when the user asked to stop; cleared by nothing (the run ends). */
  stopping: boolean;
  end?: EndEvent;
  progress?: { label: string; done: number; total: number; startedAt: number };
}

/** How many recent step losses the sparkline shows. */
export const SPARKLINE_STEPS = 40;

export function initialDashboardState(now = 0): DashboardState {
  return { now, recentLosses: [], finished: [], epochOverheadSeconds: 0, staticLog: { all: [], length: 0 }, skipped: 0, stopping: false };
}

/** Returns the state after `event`, received at time `now` (ms). Never mutates `state`. */
export function reduceDashboard(state: DashboardState, event: LosaEvent, now: number): DashboardState {
  const s: DashboardState = { ...state, now, startedAt: state.startedAt ?? now };
  switch (event.type) {
    case 'start':
      s.run = event.run;
      s.staticLog = appendStatic(s.staticLog, { kind: 'header', run: event.run });
      return s;
    case 'epoch-start':
      s.epoch = {
        epoch: event.epoch,
        epochs: event.epochs,
        steps: event.steps,
        fromCache: event.fromCache,
        startedAt: now,
        stepInEpoch: 0,
      };
      s.validating = undefined;
      return s;
    case 'step':
      return withStep(s, event, now);
    case 'validate':
      s.validating = { epoch: event.epoch, done: event.done, total: event.total };
      return s;
    case 'epoch-end':
      return withEpochEnd(s, event.summary);
    case 'skip':
      s.skipped = event.skipped;
      s.lastSkip = { path: event.path, reason: event.reason };
      return s;
    case 'checkpoint':
      s.lastCheckpoint = { ...event, at: now, epoch: s.epoch?.epoch };
      return s;
    case 'progress': {
      const same = s.progress && s.progress.label === event.label;
      s.progress = { label: event.label, done: event.done, total: event.total, startedAt: same ? s.progress!.startedAt : now };
      return s;
    }
    case 'log':
      s.staticLog = appendStatic(s.staticLog, { kind: 'log', level: event.level, message: event.message });
      return s;
    case 'end':
      s.end = event;
      s.validating = undefined;
      return s;
  }
}

/** The state after a step event: the epoch's progress, the last step, the loss sparkline. */
function withStep(s: DashboardState, event: StepEvent, now: number): DashboardState {
  const epoch: EpochProgress = s.epoch && s.epoch.epoch === event.epoch
    ? { ...s.epoch }
    : { epoch: event.epoch, epochs: s.run?.epochs ?? event.epoch, steps: event.stepsInEpoch, fromCache: false, startedAt: now, stepInEpoch: 0 };
  // The epoch is "from cache" while every step so far was; its first step replaces the guess.
  epoch.fromCache = epoch.lastStepAt === undefined ? event.fromCache : epoch.fromCache && event.fromCache;
  epoch.baseStep ??= event.stepInEpoch - 1;
  epoch.stepInEpoch = event.stepInEpoch;
  epoch.steps = event.stepsInEpoch;
  epoch.lastStepAt = now;
  return { ...s, epoch, lastStep: event, recentLosses: [...s.recentLosses, event.loss].slice(-SPARKLINE_STEPS) };
}

/** The state after an epoch ends: its row above the live area, and how long it spent outside its steps. */
function withEpochEnd(s: DashboardState, summary: EpochSummary): DashboardState {
  // The table's heading comes before the first finished epoch.
  let log = s.finished.length === 0 ? appendStatic(s.staticLog, { key: 'table-head', kind: 'table-head' }) : s.staticLog;
  log = appendStatic(log, { kind: 'epoch', summary, epochs: s.epoch?.epochs ?? s.run?.epochs });
  const out: DashboardState = { ...s, staticLog: log, finished: [...s.finished, summary], validating: undefined };
  if (s.epoch && s.epoch.epoch === summary.epoch && s.epoch.lastStepAt !== undefined) {
    const trainSeconds = (s.epoch.lastStepAt - s.epoch.startedAt) / 1000;
    out.epochOverheadSeconds = Math.max(0, summary.seconds - trainSeconds);
  }
  return out;
}

/** Marks that the user asked to stop (shown as "stopping after checkpoint…" until `end`). */
export function markStopping(state: DashboardState): DashboardState {
  return state.stopping ? state : { ...state, stopping: true };
}

/** Seconds of the current epoch still to run, and of the whole run, estimated from step times. */
export function estimateRemaining(state: DashboardState): { epochSeconds?: number; runSeconds?: number } {
  const e = state.epoch;
  const done = e ? e.stepInEpoch - (e.baseStep ?? 0) : 0;
  if (!e || done <= 0) return {};
  const secPerStep = (state.now - e.startedAt) / 1000 / done;
  const overhead = state.epochOverheadSeconds;
  const epochSeconds = Math.max(0, e.steps - e.stepInEpoch) * secPerStep;
  const laterEpochs = Math.max(0, e.epochs - e.epoch);
  // Later epochs are projected from this epoch's pace (a cached epoch is far faster than the
  // first), plus the validation and saving time the last finished epoch took.
  const runSeconds = epochSeconds + (state.validating ? 0 : overhead) + laterEpochs * (e.steps * secPerStep + overhead);
  return { epochSeconds, runSeconds };
}
