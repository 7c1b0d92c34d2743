// The plain, NDJSON and quiet renderers, the render-mode choice, and createRenderer's Ink
// dashboard on fake terminal streams.
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { inCi } from '../src/cli.js';
import { createRenderer, pickRenderMode } from '../src/ui/index.js';
import { PlainLines } from '../src/ui/plain.js';
import { sampleRunEvents, sampleRunInfo, sampleSteps } from '../src/ui/sample.js';
import type { LosaEvent } from '../src/train/events.js';

// Under CI (a `CI` variable) Ink draws only the last frame, at unmount; these tests are about
// drawing on a terminal, so Ink must load without it. Ink loads lazily, after this runs.
const savedCiEnv = vi.hoisted(() => {
  const saved = { CI: process.env.CI, CONTINUOUS_INTEGRATION: process.env.CONTINUOUS_INTEGRATION };
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  return saved;
});
afterAll(() => {
  for (const [key, value] of Object.entries(savedCiEnv)) if (value !== undefined) process.env[key] = value;
});

class Sink extends Writable {
  text = '';
  columns = 120;
  rows = 60;
  constructor(public isTTY = false) {
    super();
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += String(chunk);
    cb();
  }
  lines(): string[] {
    return this.text.split('\n').filter((l) => l !== '');
  }
}

/** A terminal's stdin as Ink reads it (the shape ink-testing-library uses). */
class FakeStdin extends EventEmitter {
  data: string | null = null;
  constructor(public isTTY: boolean) {
    super();
  }
  write(data: string): void {
    this.data = data;
    this.emit('readable');
    this.emit('data', data);
  }
  read(): string | null {
    const d = this.data;
    this.data = null;
    return d;
  }
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\u001B\[[0-9;?<>=]*[A-Za-z]/g, '').replace(/\u001B[78]/g, '');
/** Lets Ink handle a key and React draw the result: a few turns of the event loop, no clock involved. */
const tick = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};
/** How often waitFor looks again (it waits for Ink to load; nothing is timed). */
const poll = () => new Promise((r) => setTimeout(r, 20));

/** Polls until `cond` holds (Ink loads lazily, in well under a second on an idle machine). */
async function waitFor(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await poll();
  }
}

describe('pickRenderMode', () => {
  it('prefers --json, then the terminal, then plain or quiet', () => {
    expect(pickRenderMode({ isTTY: true, json: true })).toBe('json');
    expect(pickRenderMode({ isTTY: false, json: true, quietWhenPlain: true })).toBe('json');
    expect(pickRenderMode({ isTTY: true })).toBe('tui');
    expect(pickRenderMode({ isTTY: true, noTui: true })).toBe('plain');
    expect(pickRenderMode({ isTTY: false })).toBe('plain');
    expect(pickRenderMode({ isTTY: false, quietWhenPlain: true })).toBe('quiet');
    expect(pickRenderMode({ isTTY: true, quietWhenPlain: true })).toBe('tui');
  });

  it('counts a CI service as no terminal, as Ink does', () => {
    expect(inCi({})).toBe(false);
    expect(inCi({ CI: 'true' })).toBe(true);
    expect(inCi({ CI: '1' })).toBe(true);
    expect(inCi({ CI: '' })).toBe(true);
    expect(inCi({ CI: '0' })).toBe(false);
    expect(inCi({ CI: 'false' })).toBe(false);
    expect(inCi({ CONTINUOUS_INTEGRATION: 'yes' })).toBe(true);
  });
});

describe('plain renderer', () => {
  function plainLines(events: LosaEvent[], every = 5): string[] {
    let t = 0;
    const out: string[] = [];
    const p = new PlainLines((l) => out.push(l), { every, clock: () => t });
    for (const e of events) {
      t += 1000;
      p.emit(e);
    }
    return out;
  }

  it('prints the header, a line every N steps and at the end of an epoch, epochs, skips, checkpoints, the end', () => {
    const lines = plainLines(sampleRunEvents());
    expect(lines[0]).toBe('losa train · ViT-Ti/16 backbone 5.5M frozen · LoSA side network 123.5K trainable');
    expect(lines).toContain('4 classes: left, right, up, down');
    expect(lines.some((l) => l.includes('RANDOM WEIGHTS'))).toBe(true);
    const steps = lines.filter((l) => / step \d+\/12 /.test(l));
    expect(steps.map((l) => /^epoch (\d)\/2 step (\d+)\/12/.exec(l)!.slice(1).join(':'))).toEqual(['1:5', '1:10', '1:12', '2:5', '2:10', '2:12']);
    const loss5 = (1.4 / 1.5).toFixed(4);
    expect(steps[0]).toMatch(new RegExp(`^epoch 1/2 step 5/12 · loss ${loss5} · acc 40\\.0% · lr 1\\.00e-3 · 40\\.0 clips/s · decode 12ms backbone 8\\.5ms side 3\\.3ms per clip · rss 512 MiB · ETA `));
    expect(lines).toContain('skipped video/demo/train/up/bad.mp4: no video stream (1 so far)');
    expect(lines).toContain('epoch 1/2 done · train loss 1.2000 top-1 60.0% · val loss 1.1000 top-1 70.0% top-5 100.0% · 30s · cache no · lr 1.00e-3 · best');
    expect(lines).toContain('epoch 2/2 done · train loss 0.6000 top-1 80.0% · val loss 0.5500 top-1 90.0% top-5 100.0% · 3.0s · cache yes · lr 5.00e-4 · best');
    expect(lines.filter((l) => l === 'checkpoint (best): models/demo/best.safetensors')).toHaveLength(2);
    expect(lines.slice(-4)).toEqual([
      'done in 33s · best val top-1 90.0%',
      "1 file skipped (listed in the run's train.log)",
      'files: models/demo, models/demo/best.safetensors',
      'plots: models/demo/curves.svg',
    ]);
    // Nothing animated: no escape codes, no carriage returns.
    expect(lines.join('\n')).not.toMatch(/[\r\u001B]/);
  });

  it('computes the step line ETA from the pace of the epoch', () => {
    // epoch-start at 2 s, steps 1..10 at 3..12 s: 1 s a step; 2 left in this epoch, 12 in the next.
    const lines = plainLines([
      { type: 'start', run: sampleRunInfo() },
      { type: 'epoch-start', epoch: 1, epochs: 2, steps: 12, fromCache: false },
      ...sampleSteps(1, 12, 2, 1, 10),
    ], 10);
    expect(lines.at(-1)).toMatch(/ · ETA 14s$/);
  });

  it('prints progress of features/eval/classify every tenth', () => {
    const out = new Sink();
    const err = new Sink();
    const r = createRenderer('plain', { stdout: out, stderr: err }, { kind: 'progress' });
    for (let i = 0; i <= 40; i++) r.emit({ type: 'progress', label: 'features', done: i, total: 40 });
    const lines = err.lines().map((l) => l.replace(/ · .*$/, ''));
    expect(lines).toEqual([0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40].map((d) => `features ${d}/40 (${(d / 40) * 100}%)`));
    expect(out.text).toBe('');
  });
});

describe('json renderer', () => {
  it('writes one JSON object per event per line, which parse back to the events', async () => {
    const out = new Sink();
    const events = sampleRunEvents();
    const r = createRenderer('json', { stdout: out, stderr: new Sink() });
    const emit = r.emit; // handed on as a sink, unbound
    for (const e of events) emit(e);
    await r.close();
    const lines = out.text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l))).toEqual(events);
  });
});

describe('quiet renderer', () => {
  it('prints only warnings, to stderr', async () => {
    const out = new Sink();
    const err = new Sink();
    const r = createRenderer('quiet', { stdout: out, stderr: err }, { kind: 'progress' });
    r.emit({ type: 'progress', label: 'eval', done: 1, total: 2 });
    r.emit({ type: 'log', level: 'info', message: 'hello' });
    r.emit({ type: 'log', level: 'warn', message: 'a.mp4: no video stream' });
    await r.close();
    expect(out.text).toBe('');
    expect(err.text).toBe('losa: warning: a.mp4: no video stream\n');
  });
});

describe('createRenderer tui', () => {
  it('draws the dashboard on stdout, calls onStop once on q, and leaves the final lines', async () => {
    const out = new Sink(true);
    const err = new Sink(true);
    const stdin = new FakeStdin(true);
    const onStop = vi.fn();
    const r = createRenderer('tui', { stdout: out, stderr: err, stdin: stdin as unknown as NodeJS.ReadStream }, { onStop, fps: 1000 });
    const events = sampleRunEvents();
    const half = events.findIndex((e) => e.type === 'epoch-end');
    for (const e of events.slice(0, half)) r.emit(e);
    await waitFor(() => stripAnsi(out.text).includes('press q to stop'), 'the dashboard');
    stdin.write('q');
    await waitFor(() => stripAnsi(out.text).includes('stopping after checkpoint…'), 'the stopping notice');
    stdin.write('q');
    await tick();
    expect(onStop).toHaveBeenCalledTimes(1);
    for (const e of events.slice(half)) r.emit(e);
    await r.close();
    const text = stripAnsi(out.text);
    expect(text).toContain('RANDOM WEIGHTS');
    expect(text).toMatch(/2\/2\s+0\.6000\s+80\.0%/);
    expect(text).toContain('plots: models/demo/curves.svg');
    expect(err.text).toBe('');
  });

  it('does not crash without a terminal on stdin, and reads no keys there', async () => {
    const out = new Sink(true);
    const stdin = new FakeStdin(false);
    const onStop = vi.fn();
    const r = createRenderer('tui', { stdout: out, stderr: new Sink(), stdin: stdin as unknown as NodeJS.ReadStream }, { onStop });
    const emit = r.emit;
    for (const e of sampleRunEvents()) emit(e);
    stdin.write('q');
    await r.close();
    expect(onStop).not.toHaveBeenCalled();
    expect(stripAnsi(out.text)).toContain('done in 33s');
    expect(stripAnsi(out.text)).not.toContain('press q');
  });

  it('draws a flood of steps at no more than 10 frames a second', async () => {
    const out = new Sink(true);
    let now = 0; // the renderer's clock, moved by the test alone
    const r = createRenderer('tui', { stdout: out, stderr: new Sink(), stdin: new FakeStdin(false) as unknown as NodeJS.ReadStream }, { clock: () => now });
    r.emit({ type: 'start', run: sampleRunInfo({ stepsPerEpoch: 300, epochs: 1 }) });
    await waitFor(() => out.text.includes('RANDOM WEIGHTS'), 'the header');
    const frames = () => (stripAnsi(out.text).match(/^run +[█░▏▎▍▌▋▊▉]/gm) ?? []).length;
    // A step every 2 ms for 0.6 s of the renderer's (and Ink's) timers: 300 steps, 6 frame intervals.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    try {
      for (const e of sampleSteps(1, 300, 1)) {
        r.emit(e);
        now += 2;
        vi.advanceTimersByTime(2);
      }
      vi.runOnlyPendingTimers();
    } finally {
      vi.useRealTimers();
    }
    await r.close();
    // One frame a step would be 300; 0.6 s at 10 frames a second is 6, plus the first and the last.
    expect(frames()).toBeLessThanOrEqual(8);
    expect(frames()).toBeGreaterThanOrEqual(2);
    expect(stripAnsi(out.text)).toContain('300/300 steps');
  });

  it('draws progress on stderr and erases it at the end; nothing when stderr is not a terminal', async () => {
    const out = new Sink(true);
    const err = new Sink(true);
    const r = createRenderer('tui', { stdout: out, stderr: err }, { kind: 'progress', fps: 1000 });
    r.emit({ type: 'progress', label: 'classify', done: 1, total: 4 });
    await waitFor(() => /classify █+░+\s+25%\s+1\/4/.test(stripAnsi(err.text)), 'the progress bar');
    r.emit({ type: 'progress', label: 'classify', done: 4, total: 4 });
    await r.close();
    expect(out.text).toBe('');

    const err2 = new Sink(false);
    const r2 = createRenderer('tui', { stdout: new Sink(true), stderr: err2 }, { kind: 'progress' });
    r2.emit({ type: 'progress', label: 'classify', done: 1, total: 4 });
    await r2.close();
    expect(err2.text).toBe('');
  });
});
