// The `losa extract` dashboard (Ink): the plan, a progress bar of the jobs with the ETA, clips
// per second in total and per worker, the latest failures and connection notes. Redrawn at most
// ten times a second, and once a second while nothing happens (the clock moves the ETA).
import React from 'react';
import { Box, Text, render, type Instance } from 'ink';
import { ProgressLine } from '../ui/components/ProgressLine.js';
import { extractRates, type ExtractState } from './progress.js';
import { planLines } from './render.js';

export interface DashboardView {
  update(state: ExtractState): void;
  close(): Promise<void>;
}

/** Failures shown on the dashboard (all are listed at the end). */
const SHOWN_FAILURES = 5;

export function ExtractDashboard({ state }: { state: ExtractState }): React.JSX.Element {
  const rates = extractRates(state);
  const jobs = state.plan?.jobs ?? 0;
  const finished = state.done + state.failed.length;
  const width = Math.max(8, ...rates.perWorker.map((w) => w.name.length));
  return (
    <Box flexDirection="column">
      {state.plan ? planLines(state.plan).map((line, i) => <Text key={i} bold={i === 0}>{line}</Text>) : <Text>planning…</Text>}
      <ProgressLine label="jobs" done={finished} total={jobs} unit="" etaSeconds={rates.etaSeconds} labelWidth={6} />
      <Text>
        {`done ${state.done} · failed ${state.failed.length} · active ${state.active.size}` +
          ` · ${rates.clipsPerSecond.toFixed(1)} clips/s in total` +
          (state.connected !== undefined ? ` · ${state.connected} workers connected` : '')}
      </Text>
      {rates.perWorker.map((w) => (
        <Text key={w.name} dimColor={w.active === 0}>
          {`  ${w.name.padEnd(width)}  ${w.clipsPerSecond.toFixed(1).padStart(6)} clips/s  ${String(w.jobs).padStart(6)} jobs  ${w.active} active`}
        </Text>
      ))}
      {state.plan?.queue && state.connected === 0 && state.active.size === 0 ? (
        <Text color="yellow">{'no worker is connected: start `losa worker --redis URL` on any machine that mounts the cache'}</Text>
      ) : null}
      {state.failed.slice(-SHOWN_FAILURES).map((f, i) => <Text key={`f${i}`} color="red">{`failed: ${f.file}: ${f.reason}`}</Text>)}
      {state.logs.map((line, i) => <Text key={`l${i}`} dimColor>{line}</Text>)}
    </Box>
  );
}

export function mountExtractDashboard(stdout: NodeJS.WritableStream, clock: () => number, fps = 10): DashboardView {
  const instance: Instance = render(<></>, { stdout: stdout as NodeJS.WriteStream, exitOnCtrlC: false, patchConsole: false, maxFps: fps });
  let latest: ExtractState | undefined;
  let lastDraw = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  const draw = (): void => {
    timer = undefined;
    if (!latest) return;
    lastDraw = clock();
    instance.rerender(<ExtractDashboard state={{ ...latest, now: Math.max(latest.now, lastDraw) }} />);
  };
  const ticker = setInterval(() => timer === undefined && draw(), 1000);
  ticker.unref();
  return {
    update(state) {
      latest = state;
      if (timer !== undefined) return;
      timer = setTimeout(draw, Math.max(0, lastDraw + 1000 / fps - clock()));
      timer.unref();
    },
    async close() {
      if (timer !== undefined) clearTimeout(timer);
      clearInterval(ticker);
      draw();
      const exited = instance.waitUntilExit();
      instance.unmount();
      await exited;
    },
  };
}
