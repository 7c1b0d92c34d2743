// The plain renderer: log lines for a pipe, a file or --no-tui. Nothing animated: a header
// block, a line every N steps and one per epoch, skips, checkpoints, messages, the end.
import type { LosaEvent } from '../train/events.js';
import { estimateRemaining, initialDashboardState, reduceDashboard, type DashboardState } from './state.js';
import { endLine, epochSummaryLine, filesLines, headerLines, stepLine } from './lines.js';
import { formatDuration } from './format.js';

/** Skipped files printed one by one; the others are counted (the run's train.log lists them all). */
export const PLAIN_SKIP_LINES = 20;

export interface PlainRendererOptions {
  /** A step line every this many steps of an epoch (and at its last step). Default 10. */
  every?: number;
  /** 'progress': only progress lines (every 10%), on `err`. */
  kind?: 'train' | 'progress';
  clock?: () => number;
}

/** Turns events into lines; `write` receives each line without its newline. */
export class PlainLines {
  private state: DashboardState;
  private readonly every: number;
  private readonly clock: () => number;
  private lastProgressTenth = -1;
  private progressLabel = '';

  constructor(
    private readonly write: (line: string) => void,
    private readonly options: PlainRendererOptions = {},
  ) {
    this.every = Math.max(1, Math.floor(options.every ?? 10));
    this.clock = options.clock ?? (() => performance.now());
    this.state = initialDashboardState(this.clock());
  }

  emit(event: LosaEvent): void {
    this.state = reduceDashboard(this.state, event, this.clock());
    const epochs = this.state.epoch?.epochs ?? this.state.run?.epochs;
    switch (event.type) {
      case 'start':
        for (const line of headerLines(event.run)) this.write(line.text);
        return;
      case 'step':
        if (this.options.kind === 'progress') return;
        if (event.stepInEpoch % this.every === 0 || event.stepInEpoch === event.stepsInEpoch) {
          this.write(stepLine(event, epochs, estimateRemaining(this.state).runSeconds));
        }
        return;
      case 'epoch-end':
        this.write(epochSummaryLine(event.summary, epochs));
        return;
      case 'skip':
        // Thousands of unreadable clips must not drown the log: the first ones, then a count at the end.
        if (event.skipped <= PLAIN_SKIP_LINES) this.write(`skipped ${event.path}: ${event.reason} (${event.skipped} so far)`);
        if (event.skipped === PLAIN_SKIP_LINES) this.write(`(further skipped files are counted here and listed in the run's train.log)`);
        return;
      case 'checkpoint':
        this.write(`checkpoint (${event.kind}): ${event.path}`);
        return;
      case 'log':
        this.write(event.level === 'warn' ? `warning: ${event.message}` : event.message);
        return;
      case 'progress': {
        // A line each time another tenth of the work is done, so a log stays short.
        const tenth = event.total > 0 ? Math.floor((event.done / event.total) * 10) : 10;
        if (event.label !== this.progressLabel) this.lastProgressTenth = -1;
        this.progressLabel = event.label;
        if (tenth <= this.lastProgressTenth) return;
        this.lastProgressTenth = tenth;
        const percent = event.total > 0 ? Math.floor((event.done / event.total) * 100) : 100;
        const elapsed = (this.state.now - this.state.progress!.startedAt) / 1000;
        this.write(`${event.label} ${event.done}/${event.total} (${percent}%) · ${formatDuration(elapsed)}`);
        return;
      }
      case 'end':
        this.write(endLine(event).text);
        if (this.state.skipped > 0) this.write(`${this.state.skipped} file${this.state.skipped === 1 ? '' : 's'} skipped (listed in the run's train.log)`);
        for (const line of filesLines(event.files)) this.write(line);
        return;
      case 'epoch-start':
      case 'validate':
        return;
    }
  }
}
