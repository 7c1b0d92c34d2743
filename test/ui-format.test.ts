// Formatting helpers and the dashboard state's estimates.
import { describe, expect, it } from 'vitest';
import { formatCount, formatDuration, formatLoss, formatLr, formatMs, formatPercent, progressBar, sparkline } from '../src/ui/format.js';
import { estimateRemaining, initialDashboardState, reduceDashboard } from '../src/ui/state.js';
import { sampleSteps } from '../src/ui/sample.js';
import { stepLine, throughputLine } from '../src/ui/lines.js';
import type { StepEvent } from '../src/ui/state.js';

describe('format', () => {
  it('formats durations', () => {
    expect(formatDuration(0.85)).toBe('850ms');
    expect(formatDuration(5)).toBe('5.0s');
    expect(formatDuration(12.3)).toBe('12s');
    expect(formatDuration(192)).toBe('3m 12s');
    expect(formatDuration(3720)).toBe('1h 02m');
    expect(formatDuration(2 * 86400 + 3 * 3600)).toBe('2d 03h');
    expect(formatDuration(Number.NaN)).toBe('–');
    expect(formatDuration(-1)).toBe('–');
  });

  it('formats counts', () => {
    expect(formatCount(950)).toBe('950');
    expect(formatCount(5_717_416)).toBe('5.7M');
    expect(formatCount(123_456)).toBe('123.5K');
    expect(formatCount(999_960)).toBe('1.0M');
    expect(formatCount(86_567_656)).toBe('86.6M');
    expect(formatCount(3_926_000_000)).toBe('3.9B');
    expect(formatCount(-1500)).toBe('-1.5K');
  });

  it('formats losses, rates, percentages, milliseconds', () => {
    expect(formatLoss(1.38629)).toBe('1.3863');
    expect(formatLoss(12.345)).toBe('12.35');
    expect(formatLoss(Number.NaN)).toBe('nan');
    expect(formatLoss(Number.POSITIVE_INFINITY)).toBe('inf');
    expect(formatLr(3e-4)).toBe('3.00e-4');
    expect(formatLr(0)).toBe('0');
    expect(formatPercent(0.953)).toBe('95.3%');
    expect(formatMs(3.25)).toBe('3.3ms');
    expect(formatMs(45.4)).toBe('45ms');
    expect(formatMs(1500)).toBe('1.5s');
  });

  it('draws bars and sparklines', () => {
    expect(progressBar(0, 10)).toBe('░'.repeat(10));
    expect(progressBar(1, 10)).toBe('█'.repeat(10));
    expect(progressBar(0.5, 10)).toBe('█████░░░░░');
    expect(progressBar(0.55, 10)).toBe('█████▌░░░░');
    expect(progressBar(2, 4)).toBe('████');
    for (const f of [0, 0.01, 0.33, 0.999]) expect([...progressBar(f, 17)]).toHaveLength(17);
    expect(sparkline([0, 7, 3.5, Number.NaN])).toBe('▁█▅ ');
    expect(sparkline([2, 2])).toBe('▄▄');
  });
});

describe('estimateRemaining', () => {
  it('projects the epoch from its pace and later epochs with the last epoch overhead', () => {
    let s = initialDashboardState(0);
    s = reduceDashboard(s, { type: 'epoch-start', epoch: 1, epochs: 3, steps: 10, fromCache: false }, 0);
    sampleSteps(1, 10, 3).forEach((e, i) => (s = reduceDashboard(s, e, 2000 * (i + 1))));
    // Epoch 1: 10 steps of 2 s, then validation until 25 s: 5 s of overhead.
    s = reduceDashboard(s, { type: 'epoch-end', summary: { epoch: 1, trainLoss: 1, trainTop1: 0.5, seconds: 25, fromCache: false, lr: 1e-3, best: true } }, 25_000);
    s = reduceDashboard(s, { type: 'epoch-start', epoch: 2, epochs: 3, steps: 10, fromCache: true }, 25_000);
    sampleSteps(2, 10, 3, 1, 4).forEach((e, i) => (s = reduceDashboard(s, e, 25_000 + 500 * (i + 1))));
    // 4 steps in 2 s: 0.5 s a step. Epoch: 6 × 0.5 = 3 s. Run: 3 + 5 + (10 × 0.5 + 5) = 18 s.
    const eta = estimateRemaining(s);
    expect(eta.epochSeconds).toBeCloseTo(3, 9);
    expect(eta.runSeconds).toBeCloseTo(18, 9);
  });

  it('counts only the steps of this session in a resumed epoch', () => {
    let s = initialDashboardState(0);
    s = reduceDashboard(s, { type: 'epoch-start', epoch: 2, epochs: 2, steps: 10, fromCache: true }, 0);
    // Resumed after 6 steps: steps 7 and 8 at 1 s and 2 s. 1 s a step, 2 steps left.
    sampleSteps(2, 10, 2, 7, 8).forEach((e, i) => (s = reduceDashboard(s, e, 1000 * (i + 1))));
    expect(estimateRemaining(s).epochSeconds).toBeCloseTo(2, 9);
  });
});

describe('step lines', () => {
  it('call the load time decoding, or a cache read when no clip needed the backbone', () => {
    const step = sampleSteps(1, 4, 1, 1, 1)[0] as StepEvent;
    expect(throughputLine(step)).toBe('speed 40.0 clips/s · per clip: decode 12ms · backbone 8.5ms · side 3.3ms');
    const cached: StepEvent = { ...step, time: { decodeMs: 2, backboneMs: 0, sideMs: 3.25 } };
    expect(throughputLine(cached)).toBe('speed 40.0 clips/s · per clip: cache read 2.0ms · backbone 0.0ms · side 3.3ms');
    expect(stepLine(cached, 1)).toContain(' · cache read 2.0ms backbone 0.0ms side 3.3ms per clip · ');
  });
});
