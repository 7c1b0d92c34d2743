// The dashboard's reducer at Kinetics scale: static lines (messages, epochs) are an append-only
// list shared by successive states, so 30,000 messages cost 30,000 appends, not a copy of the
// whole list per message; each state still sees exactly its own lines. The plain renderer
// prints the first skipped files and counts the rest.
import { describe, expect, it } from 'vitest';
import { PLAIN_SKIP_LINES, PlainLines } from '../src/ui/plain.js';
import { initialDashboardState, reduceDashboard, staticItems, type DashboardState } from '../src/ui/state.js';
import type { LosaEvent } from '../src/train/events.js';

const log = (i: number): LosaEvent => ({ type: 'log', level: 'warn', message: `message ${i}` });

describe('the static lines of the dashboard', () => {
  it('are appended in place for the latest state: one list for 30,000 messages', () => {
    let state = initialDashboardState(0);
    const first = reduceDashboard(state, log(0), 1);
    state = first;
    for (let i = 1; i < 30_000; i++) state = reduceDashboard(state, log(i), i + 1);
    expect(state.staticLog.length).toBe(30_000);
    expect(state.staticLog.all).toBe(first.staticLog.all); // no copy was made on the way
    // Every state still sees only its own lines.
    expect(staticItems(first.staticLog).map((i) => (i as { message: string }).message)).toEqual(['message 0']);
    expect(staticItems(state.staticLog).at(-1)).toMatchObject({ kind: 'log', message: 'message 29999' });
    expect(new Set(staticItems(state.staticLog).map((i) => i.key)).size).toBe(30_000);
  });

  it('copy on the way when an older state is reduced again, leaving the newer one as it was', () => {
    const a: DashboardState = reduceDashboard(initialDashboardState(0), log(0), 1);
    const b = reduceDashboard(a, log(1), 2);
    const c = reduceDashboard(a, log(2), 3); // a branch from `a`, after `b` grew the shared list
    expect(staticItems(b.staticLog).map((i) => (i as { message: string }).message)).toEqual(['message 0', 'message 1']);
    expect(staticItems(c.staticLog).map((i) => (i as { message: string }).message)).toEqual(['message 0', 'message 2']);
    expect(c.staticLog.all).not.toBe(b.staticLog.all);
  });
});

describe('the plain renderer and many skipped files', () => {
  it('prints the first ones, then counts them, and names where the list is', () => {
    const lines: string[] = [];
    const plain = new PlainLines((l) => lines.push(l), { clock: () => 0 });
    for (let k = 1; k <= 100; k++) plain.emit({ type: 'skip', path: `/videos/${k}.mp4`, reason: 'cannot decode', skipped: k });
    plain.emit({ type: 'end', status: 'done', seconds: 1, files: [] });
    expect(lines.filter((l) => l.startsWith('skipped /videos/'))).toHaveLength(PLAIN_SKIP_LINES);
    expect(lines).toContain("(further skipped files are counted here and listed in the run's train.log)");
    expect(lines.at(-1)).toBe("100 files skipped (listed in the run's train.log)");
  });
});
