// How `losa extract` shows a run: the dashboard on a terminal (dashboard.tsx), plain lines
// otherwise or with --no-tui (the plan, a line per tenth of the jobs, each failure, the end with
// every failure listed), NDJSON events with --json.
import type { RenderMode } from '../ui/index.js';
import { formatDuration } from '../ui/index.js';
import { extractRates, initialExtractState, reduceExtract, type ExtractEvent, type ExtractState } from './progress.js';

export interface ExtractRenderer {
  emit(event: ExtractEvent): void;
  close(): Promise<void>;
}

export interface ExtractRendererIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
}

export function createExtractRenderer(mode: RenderMode, io: ExtractRendererIO, clock: () => number = () => performance.now()): ExtractRenderer {
  if (mode === 'json') return { emit: (e) => void io.stdout.write(JSON.stringify(e) + '\n'), close: async () => undefined };
  if (mode === 'tui') return new DashboardRenderer(io, clock);
  const lines = new PlainExtractLines((line) => io.stdout.write(line + '\n'), clock);
  return { emit: (e) => lines.emit(e), close: async () => undefined };
}

/** "12/116 jobs (10%) · 1 failed · 3 active · 4.2 clips/s · ETA 1m 20s" */
export function progressText(state: ExtractState): string {
  const jobs = state.plan?.jobs ?? 0;
  const finished = state.done + state.failed.length;
  const rates = extractRates(state);
  const percent = jobs > 0 ? Math.floor((finished / jobs) * 100) : 100;
  return [
    `${state.done}/${jobs} jobs done (${percent}%)`,
    `${state.failed.length} failed`,
    `${state.active.size} active`,
    `${rates.clipsPerSecond.toFixed(1)} clips/s`,
    ...(rates.etaSeconds !== undefined && finished < jobs ? [`ETA ${formatDuration(rates.etaSeconds)}`] : []),
  ].join(' · ');
}

/** The plan, said once: what is cached, what is queued and where. */
export function planLines(plan: Extract<ExtractEvent, { type: 'plan' }>): string[] {
  const where = plan.queue
    ? `on ${plan.queue}: ${plan.added} added, ${plan.inQueue} already queued`
    : 'in this process (no --redis)';
  return [
    `losa extract · backbone ${plan.backbone} · cache ${plan.cache}`,
    `${plan.videos} videos: ${plan.cached} already in the cache, ${plan.jobs} jobs (${plan.clips} clips) ${where}`,
  ];
}

/** The end: a summary line, then every failed video with its reason. */
export function endLines(end: Extract<ExtractEvent, { type: 'end' }>): string[] {
  const what = end.status === 'stopped' ? 'stopped' : 'done';
  const lines = [`extract ${what} in ${formatDuration(end.seconds)}: ${end.done} jobs done, ${end.failed.length} failed`];
  if (end.status === 'stopped') lines.push('the jobs not done stay in the queue; run the same command again to follow them');
  if (end.failed.length > 0) lines.push('failed:', ...end.failed.map((f) => `  ${f.file}: ${f.reason}`));
  return lines;
}

export class PlainExtractLines {
  private state: ExtractState;
  private lastTenth = -1;

  constructor(private readonly write: (line: string) => void, private readonly clock: () => number) {
    this.state = initialExtractState(clock());
  }

  emit(event: ExtractEvent): void {
    this.state = reduceExtract(this.state, event, this.clock());
    switch (event.type) {
      case 'plan':
        return planLines(event).forEach((l) => this.write(l));
      case 'done': {
        const jobs = this.state.plan?.jobs ?? 0;
        const tenth = jobs > 0 ? Math.floor(((this.state.done + this.state.failed.length) / jobs) * 10) : 10;
        if (tenth > this.lastTenth) {
          this.lastTenth = tenth;
          this.write(progressText(this.state));
        }
        return;
      }
      case 'failed':
        return this.write(`failed: ${event.file}: ${event.reason}`);
      case 'stalled':
        return this.write(`stalled: ${event.file}: its worker stopped; the job goes back to the queue`);
      case 'workers':
        return this.write(`workers connected: ${event.count}`);
      case 'log':
        return this.write(event.level === 'warn' ? `warning: ${event.message}` : event.message);
      case 'end':
        return endLines(event).forEach((l) => this.write(l));
      case 'active':
        return;
    }
  }
}

/** The Ink dashboard, loaded when first drawn; the end is printed as plain lines below it. */
class DashboardRenderer implements ExtractRenderer {
  private state: ExtractState;
  private view?: Promise<import('./dashboard.js').DashboardView>;

  constructor(private readonly io: ExtractRendererIO, private readonly clock: () => number) {
    this.state = initialExtractState(clock());
  }

  emit(event: ExtractEvent): void {
    this.state = reduceExtract(this.state, event, this.clock());
    this.view ??= import('./dashboard.js').then((m) => m.mountExtractDashboard(this.io.stdout, this.clock));
    const state = this.state;
    void this.view.then((v) => v.update(state));
  }

  async close(): Promise<void> {
    const view = await this.view;
    await view?.close();
    if (this.state.end) for (const line of endLines(this.state.end)) this.io.stdout.write(line + '\n');
  }
}
