// The Ink dashboard, rendered with ink-testing-library from event sequences.
import React from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { Dashboard } from '../src/ui/components/Dashboard.js';
import { ProgressView } from '../src/ui/components/ProgressView.js';
import { initialDashboardState, reduceDashboard, type DashboardState } from '../src/ui/state.js';
import { sampleRunEvents, sampleRunInfo, sampleSteps } from '../src/ui/sample.js';
import type { LosaEvent } from '../src/train/events.js';

afterEach(() => cleanup());

/** Feeds events one second apart (the dashboard's clock), re-rendering after each. */
function driver(onStop?: () => void, onForceStop?: () => void) {
  let state: DashboardState = initialDashboardState(0);
  let now = 0;
  const ui = render(<Dashboard state={state} onStop={onStop} onForceStop={onForceStop} />);
  return {
    ui,
    feed(events: LosaEvent[], secondsEach = 1) {
      for (const e of events) {
        state = reduceDashboard(state, e, now);
        now += secondsEach * 1000;
      }
      // The view computes ETAs at the time of the last event.
      ui.rerender(<Dashboard state={{ ...state, now: state.now }} onStop={onStop} onForceStop={onForceStop} />);
    },
    frame: () => ui.lastFrame() ?? '',
  };
}

/** Lets Ink handle a key and React draw the result: a few turns of the event loop, no clock involved. */
const tick = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

describe('Dashboard', () => {
  it('shows the header: backbone, parameters, device, backend, data, classes, random weights', () => {
    const d = driver();
    d.feed([{ type: 'start', run: sampleRunInfo() }]);
    const f = d.frame();
    expect(f).toContain('ViT-Ti/16 backbone 5.5M frozen');
    expect(f).toContain('LoSA side network 123.5K trainable');
    expect(f).toContain('device cpu (chunk 16) · tfjs wasm · 8 frames · batch 8');
    expect(f).toContain('video/demo · 96 train / 32 val clips');
    expect(f).toContain('4 classes: left, right, up, down');
    expect(f).toContain('RANDOM WEIGHTS');
    expect(f).toContain('2 epochs × 12 steps · out models/demo');
    expect(f).toContain('decoder ffmpeg 5.1.9 (system, /usr/bin/ffmpeg)');
  });

  it('says when the run resumed and leaves out the warning for real weights', () => {
    const d = driver();
    d.feed([{ type: 'start', run: { ...sampleRunInfo({ randomWeights: false, resumedFrom: { epoch: 4, stepInEpoch: 0, step: 36 } }), backbone: { ...sampleRunInfo().backbone, randomWeights: false, weights: 'vit.safetensors' } } }]);
    expect(d.frame()).toContain('resumed after 36 steps, at the start of epoch 4');
    expect(d.frame()).toContain('weights vit.safetensors');
    expect(d.frame()).not.toContain('RANDOM WEIGHTS');
  });

  it('shows epoch and run progress with ETAs, live loss with sparkline, throughput, memory', () => {
    const d = driver();
    d.feed([{ type: 'start', run: sampleRunInfo() }, { type: 'epoch-start', epoch: 1, epochs: 2, steps: 12, fromCache: false }]);
    // epoch-start at t = 1 s, steps at 2..7 s: one second per step.
    d.feed(sampleSteps(1, 12, 2, 1, 6));
    const f = d.frame();
    // Epoch: 6 of 12 steps, 6 left at 1 s each. Run: 6 of 24, 6 + 12 steps left.
    expect(f).toMatch(/epoch 1\/2\s+█+░+\s+50%\s+6\/12 steps · ETA 6\.0s/);
    expect(f).toMatch(/run\s+█+░+\s+25%\s+6\/24 steps · ETA 18s/);
    const lastLoss = 1.4 / (1 + 0.1 * 6);
    expect(f).toContain(`loss ${lastLoss.toFixed(4)} `);
    // Losses fall, so the sparkline falls from the highest block to the lowest.
    expect(f).toMatch(/█[▁▂▃▄▅▆▇█]{4}▁/);
    expect(f).toContain(`acc ${(100 * (0.25 + 0.03 * 6)).toFixed(1)}%  lr 1.00e-3`);
    expect(f).toContain('speed 40.0 clips/s · per clip: decode 12ms · backbone 8.5ms · side 3.3ms');
    expect(f).toContain('memory rss 512 MiB · 321 tensors');
  });

  it('counts skipped files with the last reason, and shows checkpoints', () => {
    const d = driver();
    d.feed([
      { type: 'start', run: sampleRunInfo() },
      { type: 'skip', path: 'a.mp4', reason: 'empty file', skipped: 1 },
      { type: 'skip', path: 'b.mp4', reason: 'no video stream', skipped: 2 },
      { type: 'checkpoint', path: 'models/demo/last.safetensors', kind: 'last' },
    ]);
    expect(d.frame()).toContain('skipped 2 files · last: b.mp4: no video stream');
    expect(d.frame()).toContain('checkpoint (last) saved: models/demo/last.safetensors');
  });

  it('keeps one finished row per epoch above the live area, and ends with the files', () => {
    const d = driver();
    const events = sampleRunEvents();
    const firstEnd = events.findIndex((e) => e.type === 'epoch-end');
    d.feed(events.slice(0, firstEnd + 1));
    let f = d.frame();
    expect(f).toMatch(/epoch\s+train loss\s+train top-1\s+val loss\s+val top-1\s+val top-5\s+time\s+cache/);
    expect(f).toMatch(/1\/2\s+1\.2000\s+60\.0%\s+1\.1000\s+70\.0%\s+100\.0%\s+30s\s+no\s+★ best/);
    d.feed(events.slice(firstEnd + 1, firstEnd + 6));
    f = d.frame();
    expect(f).toContain('features from cache');
    expect(f).toMatch(/1\/2\s+1\.2000/);
    d.feed(events.slice(firstEnd + 6));
    f = d.frame();
    expect(f).toMatch(/1\/2\s+1\.2000\s+60\.0%/);
    expect(f).toMatch(/2\/2\s+0\.6000\s+80\.0%\s+0\.5500\s+90\.0%\s+100\.0%\s+3\.0s\s+yes\s+★ best/);
    // The header is printed once, the table heading once.
    expect(f.split('RANDOM WEIGHTS').length).toBe(2);
    expect(f.match(/train loss/g)?.length).toBe(1);
    expect(f).toContain('done in 33s · best val top-1 90.0%');
    expect(f).toContain('files: models/demo, models/demo/best.safetensors');
    expect(f).toContain('plots: models/demo/curves.svg');
    expect(f).toContain('1 file skipped');
    // The live area is gone.
    expect(f).not.toContain('ETA');
  });

  it('notes "features from cache" while the steps of the epoch say so, whatever the guess at its start', () => {
    const steps = (fromCache: boolean, from: number, to: number) =>
      sampleSteps(1, 12, 2, from, to).map((e) => ({ ...e, fromCache }) as LosaEvent);
    const guessedYes = driver();
    guessedYes.feed([{ type: 'start', run: sampleRunInfo() }, { type: 'epoch-start', epoch: 1, epochs: 2, steps: 12, fromCache: true }]);
    expect(guessedYes.frame()).toContain('features from cache');
    guessedYes.feed(steps(true, 1, 2));
    expect(guessedYes.frame()).toContain('features from cache');
    guessedYes.feed(steps(false, 3, 3));
    expect(guessedYes.frame()).not.toContain('features from cache');
    const guessedNo = driver();
    guessedNo.feed([{ type: 'start', run: sampleRunInfo() }, { type: 'epoch-start', epoch: 1, epochs: 2, steps: 12, fromCache: false }]);
    expect(guessedNo.frame()).not.toContain('features from cache');
    guessedNo.feed(steps(true, 1, 3));
    expect(guessedNo.frame()).toContain('features from cache');
  });

  it('shows validation progress and warnings', () => {
    const d = driver();
    d.feed([
      { type: 'start', run: sampleRunInfo() },
      { type: 'log', level: 'warn', message: 'val split is empty' },
      { type: 'epoch-start', epoch: 1, epochs: 2, steps: 12, fromCache: false },
      ...sampleSteps(1, 12, 2),
      { type: 'validate', epoch: 1, done: 8, total: 32 },
    ]);
    expect(d.frame()).toMatch(/validating\s+█+░+\s+25%\s+8\/32 clips/);
    expect(d.frame()).toContain('warning: val split is empty');
  });

  it('calls onStop once on q, says it is stopping, and force-stops on a second Ctrl-C', async () => {
    const onStop = vi.fn();
    const onForceStop = vi.fn();
    const d = driver(onStop, onForceStop);
    d.feed(sampleRunEvents().slice(0, 5));
    expect(d.frame()).toContain('press q to stop');
    d.ui.stdin.write('q');
    await tick();
    expect(onStop).toHaveBeenCalledTimes(1);
    expect(d.frame()).toContain('stopping after checkpoint…');
    d.ui.stdin.write('q');
    await tick();
    expect(onStop).toHaveBeenCalledTimes(1);
    expect(onForceStop).not.toHaveBeenCalled();
    d.ui.stdin.write('\u0003');
    await tick();
    expect(onStop).toHaveBeenCalledTimes(1);
    expect(onForceStop).toHaveBeenCalledTimes(1);
    d.feed([{ type: 'end', status: 'stopped', seconds: 12, message: 'checkpoint at epoch 1, step 3', files: ['models/demo'] }]);
    expect(d.frame()).toContain('stopped after 12s: checkpoint at epoch 1, step 3');
    expect(d.frame()).not.toContain('stopping after checkpoint');
  });

  it('treats a first Ctrl-C like q', async () => {
    const onStop = vi.fn();
    const d = driver(onStop);
    d.feed(sampleRunEvents().slice(0, 3));
    d.ui.stdin.write('\u0003');
    await tick();
    expect(onStop).toHaveBeenCalledTimes(1);
    expect(d.frame()).toContain('stopping after checkpoint…');
  });

  it('reads no keys without onStop', () => {
    const d = driver();
    d.feed(sampleRunEvents().slice(0, 3));
    expect(d.frame()).not.toContain('press q');
  });

  it('reports a failed run in one line', () => {
    const d = driver();
    d.feed([{ type: 'start', run: sampleRunInfo() }, { type: 'end', status: 'failed', seconds: 5, message: 'loss is NaN at step 7', files: [] }]);
    expect(d.frame()).toContain('failed after 5.0s: loss is NaN at step 7');
  });

  it('leaves out the time of a run that failed before it started', () => {
    const d = driver();
    d.feed([{ type: 'end', status: 'failed', seconds: 0, message: 'no clips in video/x', files: [] }]);
    expect(d.frame()).toContain('failed: no clips in video/x');
  });
});

describe('ProgressView', () => {
  it('draws a bar with count, percentage and ETA, and messages above it', () => {
    let state = initialDashboardState(0);
    state = reduceDashboard(state, { type: 'progress', label: 'classify', done: 0, total: 40 }, 0);
    state = reduceDashboard(state, { type: 'log', level: 'warn', message: 'bad.mp4: no video stream' }, 1000);
    state = reduceDashboard(state, { type: 'progress', label: 'classify', done: 10, total: 40 }, 5000);
    const ui = render(<ProgressView state={state} />);
    const f = ui.lastFrame() ?? '';
    // 10 done in 5 s: 30 left take 15 s.
    expect(f).toMatch(/classify █+░+\s+25%\s+10\/40 · ETA 15s/);
    expect(f).toContain('warning: bad.mp4: no video stream');
  });
});
