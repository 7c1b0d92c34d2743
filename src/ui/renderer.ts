// createRenderer: the one place a command gets its screen from. Every renderer takes the same
// events; they differ only in what they draw (see mode.ts for which one a command gets).
import type { LosaEvent } from '../train/events.js';
import type { RenderMode } from './mode.js';
import { PlainLines } from './plain.js';
import { initialDashboardState, markStopping, reduceDashboard, type DashboardState } from './state.js';
import type { InkView } from './tui.js';

export interface Renderer {
  emit(event: LosaEvent): void;
  /** Finishes the output (the last frame, pending writes) and releases the terminal. */
  close(): Promise<void>;
}

export interface RendererIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin?: NodeJS.ReadStream;
}

export interface RendererOptions {
  /** Called once when the user presses q or Ctrl-C on the dashboard. */
  onStop?: () => void;
  /** Called on a second Ctrl-C; default: exit at once with status 130. */
  onForceStop?: () => void;
  /** Plain mode: a step line every N steps of an epoch (default 10). */
  plainEvery?: number;
  /** 'train' (default): the dashboard. 'progress': a progress bar for features, eval, classify. */
  kind?: 'train' | 'progress';
  /** Milliseconds from a monotonic clock (tests pass their own). Default performance.now. */
  clock?: () => number;
  /** Dashboard frames per second at most (default 10). */
  fps?: number;
}

export function createRenderer(mode: RenderMode, io: RendererIO, options: RendererOptions = {}): Renderer {
  const renderer = pickRenderer(mode, io, options);
  // Bound, so that `renderer.emit` can be handed on as an event sink.
  return { emit: (event) => renderer.emit(event), close: () => renderer.close() };
}

function pickRenderer(mode: RenderMode, io: RendererIO, options: RendererOptions): Renderer {
  const kind = options.kind ?? 'train';
  switch (mode) {
    case 'json':
      return new JsonRenderer(io.stdout);
    case 'quiet':
      return new QuietRenderer(io.stderr);
    case 'plain':
      // Progress lines go to stderr so that a command's results on stdout stay clean.
      return new PlainRenderer(kind === 'progress' ? io.stderr : io.stdout, options);
    case 'tui':
      // The progress bar is drawn on stderr, beside the command's results on stdout; with
      // stderr redirected there is nothing to draw on.
      if (kind === 'progress' && !io.stderr.isTTY) return new QuietRenderer(io.stderr);
      return new TuiRenderer(io, options);
  }
}

/** Resolves once everything written to `stream` so far has been handed to the system. */
function drained(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    try {
      if (!stream.write('', () => resolve())) stream.once('drain', () => resolve());
    } catch {
      resolve();
    }
  });
}

class JsonRenderer implements Renderer {
  constructor(private readonly out: NodeJS.WritableStream) {}
  emit(event: LosaEvent): void {
    this.out.write(JSON.stringify(event) + '\n');
  }
  close(): Promise<void> {
    return drained(this.out);
  }
}

/** Prints nothing but warnings (to stderr); the caller reports errors itself. */
class QuietRenderer implements Renderer {
  constructor(private readonly err: NodeJS.WritableStream) {}
  emit(event: LosaEvent): void {
    if (event.type === 'log' && event.level === 'warn') this.err.write(`losa: warning: ${event.message}\n`);
  }
  close(): Promise<void> {
    return drained(this.err);
  }
}

class PlainRenderer implements Renderer {
  private readonly lines: PlainLines;
  constructor(private readonly out: NodeJS.WritableStream, options: RendererOptions) {
    this.lines = new PlainLines((line) => out.write(line + '\n'), { every: options.plainEvery, kind: options.kind, clock: options.clock });
  }
  emit(event: LosaEvent): void {
    this.lines.emit(event);
  }
  close(): Promise<void> {
    return drained(this.out);
  }
}

/**
 * The Ink dashboard. Events are reduced here as they come (with their arrival times); the Ink
 * view, imported lazily, draws the latest state. Should Ink fail to load, plain lines follow.
 */
class TuiRenderer implements Renderer {
  private state: DashboardState;
  private view?: InkView;
  private fallback?: PlainLines;
  private readonly ready: Promise<void>;
  private readonly clock: () => number;
  private stopAsked = false;

  constructor(private readonly io: RendererIO, private readonly options: RendererOptions) {
    this.clock = options.clock ?? (() => performance.now());
    this.state = initialDashboardState(this.clock());
    const kind = options.kind ?? 'train';
    this.ready = import('./tui.js')
      .then((m) => {
        this.view = m.mountInkView({
          kind,
          stdout: kind === 'progress' ? io.stderr : io.stdout,
          stderr: io.stderr,
          stdin: io.stdin,
          onStop: options.onStop ? () => this.requestStop() : undefined,
          onForceStop: options.onForceStop ?? (() => process.exit(130)),
          clock: this.clock,
          fps: options.fps,
        });
        this.view.update(this.state);
        this.pending = [];
      })
      .catch((error: unknown) => {
        this.view = undefined;
        io.stderr.write(`losa: warning: the dashboard could not start (${String(error)}); printing plain lines\n`);
        this.fallback = new PlainLines((line) => io.stdout.write(line + '\n'), { kind, every: options.plainEvery, clock: this.clock });
        for (const event of this.pending) this.fallback.emit(event);
        this.pending = [];
      });
  }

  /** Events seen before a fallback existed, replayed into it. */
  private pending: LosaEvent[] = [];

  emit(event: LosaEvent): void {
    if (this.fallback) return this.fallback.emit(event);
    this.state = reduceDashboard(this.state, event, this.clock());
    if (this.view) this.view.update(this.state);
    else this.pending.push(event);
  }

  private requestStop(): void {
    if (this.stopAsked) return;
    this.stopAsked = true;
    // Out of Ink's key handler: the training code may emit (and so redraw) from onStop.
    queueMicrotask(() => {
      this.state = markStopping(this.state);
      this.view?.update(this.state);
      this.options.onStop?.();
    });
  }

  async close(): Promise<void> {
    await this.ready;
    if (this.view) await this.view.close();
    else await drained(this.io.stdout);
  }
}
