// Mounts the Ink view (dashboard or progress bar) and redraws it from the latest state, at most
// `fps` times a second, so a flood of step events costs one frame per interval, not one each.
// Loaded lazily by renderer.ts: Ink takes over half a second to import.
import React from 'react';
import { render, type Instance } from 'ink';
import { initialDashboardState, type DashboardState } from './state.js';
import { Dashboard } from './components/Dashboard.js';
import { ProgressView } from './components/ProgressView.js';

export interface InkView {
  /** Draws `state` now or at the next frame. */
  update(state: DashboardState): void;
  /** Draws the last state, unmounts, and resolves once the last frame is written. */
  close(): Promise<void>;
}

export interface InkViewOptions {
  kind: 'train' | 'progress';
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin?: NodeJS.ReadStream;
  onStop?: () => void;
  onForceStop?: () => void;
  clock: () => number;
  /** Frames per second at most (default 10). */
  fps?: number;
}

export function mountInkView(options: InkViewOptions): InkView {
  const fps = options.fps ?? 10;
  const interval = 1000 / fps;
  let latest: DashboardState | undefined;
  let lastDraw = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const tree = (state: DashboardState): React.JSX.Element =>
    options.kind === 'progress'
      ? <ProgressView state={state} />
      : <Dashboard state={state} onStop={options.onStop} onForceStop={options.onForceStop} />;

  const draw = (): void => {
    timer = undefined;
    if (!latest || closed) return;
    lastDraw = options.clock();
    // The clock moves on between events, so elapsed times and ETAs are as of this frame.
    instance.rerender(tree({ ...latest, now: Math.max(latest.now, lastDraw) }));
  };

  const instance: Instance = render(<></>, {
    stdout: options.stdout as NodeJS.WriteStream,
    stderr: options.stderr as NodeJS.WriteStream,
    ...(options.stdin ? { stdin: options.stdin } : {}),
    exitOnCtrlC: false,
    // Keeps stray console output (tfjs prints a banner) above the dashboard; needs a real
    // console (test runners replace it).
    patchConsole: typeof (console as { Console?: unknown }).Console === 'function',
    maxFps: fps,
  });

  // A slow step (a large backbone) should not freeze the clock: redraw once a second anyway.
  const ticker = setInterval(() => {
    if (latest && !latest.end && timer === undefined) draw();
  }, 1000);
  ticker.unref();

  return {
    update(state) {
      if (closed) return;
      latest = state;
      if (timer !== undefined) return;
      const wait = lastDraw + interval - options.clock();
      if (wait <= 0) draw();
      else {
        timer = setTimeout(draw, wait);
        timer.unref();
      }
    },
    async close() {
      if (closed) return;
      if (timer !== undefined) clearTimeout(timer);
      clearInterval(ticker);
      draw();
      closed = true;
      // The progress bar is scaffolding: erase it so the command's own output stands alone.
      if (options.kind === 'progress') {
        const last = latest ?? initialDashboardState(options.clock());
        instance.rerender(<ProgressView state={{ ...last, end: last.end ?? endMarker }} />);
      }
      const exited = instance.waitUntilExit();
      instance.unmount();
      await exited;
    },
  };
}

const endMarker = { type: 'end', status: 'done', seconds: 0, files: [] } as const satisfies DashboardState['end'];
