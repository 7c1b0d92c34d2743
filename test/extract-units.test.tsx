// The parts of `losa extract` that need no Redis: Redis URLs and the masking of their password,
// job ids, the progress state (rates and ETA on a clock the test drives), the plain lines and the
// dashboard, and the lazy backbone (its digest without a session; the session on first use).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import React from 'react';
import { cleanup, render } from 'ink-testing-library';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadBackbone, openLazyBackbone, type BackboneOptions } from '../src/backbone/index.js';
import { ExtractDashboard } from '../src/extract/dashboard.js';
import { jobId } from '../src/extract/jobs.js';
import { extractRates, initialExtractState, reduceExtract, type ExtractEvent, type ExtractState } from '../src/extract/progress.js';
import { parseRedisUrl, redact } from '../src/extract/redis-url.js';
import { PlainExtractLines } from '../src/extract/render.js';
import { repeatLimited } from '../src/extract/run.js';
import { makeTimmWeights, randomFrames, smallConfig, writeTensors } from './backbone-helpers.js';
import { requireRedisServer } from './redis-server.js';

afterEach(() => cleanup());

describe('Redis URLs', () => {
  it('reads host, port, database, user, password and TLS; shows the password as ***', () => {
    const t = parseRedisUrl('rediss://alice:p%40ss%20word@cache.example:6380/2');
    expect(t.options).toEqual({ host: 'cache.example', port: 6380, username: 'alice', password: 'p@ss word', db: 2, tls: { servername: 'cache.example' } });
    expect(t.display).toBe('rediss://alice:***@cache.example:6380/2');
    expect(parseRedisUrl('redis://10.0.0.5').options).toEqual({ host: '10.0.0.5', port: 6379 });
    expect(parseRedisUrl('rediss://:x@10.0.0.5').options.tls).toEqual({});
  });

  it('takes the password out of any text, in both spellings', () => {
    const t = parseRedisUrl('redis://:p%40ss%20word@h');
    expect(redact('auth p@ss word failed for redis://:p%40ss%20word@h', t)).toBe('auth *** failed for redis://:***@h');
  });

  it('refuses what is not a Redis URL, in one line that does not show the password', () => {
    for (const bad of ['http://:secret@h', 'secret@h', 'nonsense:secret@', 'redis://:secret@h/x']) {
      expect(() => parseRedisUrl(bad)).toThrow(/^Expected `--redis` to be /);
      expect(() => parseRedisUrl(bad)).not.toThrow(/secret/);
    }
  });
});

describe('job ids', () => {
  it('come from the entries\' keys, in any order; hex only, so never the ":" BullMQ refuses', () => {
    const id = jobId(['b'.repeat(64), 'a'.repeat(64)]);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(jobId(['a'.repeat(64), 'b'.repeat(64)])).toBe(id);
    expect(jobId(['a'.repeat(64)])).not.toBe(id);
  });
});

/** Events at given clock times (ms), reduced in order. */
function stateAfter(timed: [number, ExtractEvent][]): ExtractState {
  return timed.reduce((s, [t, e]) => reduceExtract(s, e, t), initialExtractState(0));
}

const plan: ExtractEvent = { type: 'plan', videos: 12, cached: 2, jobs: 10, clips: 30, added: 10, inQueue: 0, backbone: 'tiny', cache: '/c', queue: 'q on redis://h:6379' };
const done = (job: string, worker: string, computed: number): ExtractEvent => ({ type: 'done', job, file: `/v/${job}.mp4`, worker, clips: 3, computed, ms: 100 });

describe('the progress of a run', () => {
  const state = stateAfter([
    [0, plan],
    [1000, { type: 'active', job: 'j1', file: '/v/j1.mp4', worker: 'a:1' }],
    [1000, { type: 'active', job: 'j2', file: '/v/j2.mp4', worker: 'b:2' }],
    [3000, { type: 'active', job: 'j3', file: '/v/j3.mp4', worker: 'a:1' }],
    [5000, done('j1', 'a:1', 3)],
    [7000, { type: 'stalled', job: 'j2', file: '/v/j2.mp4' }],
    [7000, { type: 'active', job: 'j2', file: '/v/j2.mp4', worker: 'a:1' }],
    [9000, done('j3', 'a:1', 2)],
    [11000, { type: 'failed', job: 'j4', file: '/v/j4.mp4', reason: '/v/j4.mp4: not a video' }],
  ]);

  it('counts jobs done, failed and active, per worker', () => {
    expect(state.done).toBe(2);
    expect(state.failed).toEqual([{ file: '/v/j4.mp4', reason: '/v/j4.mp4: not a video' }]);
    expect([...state.active]).toEqual([['j2', 'a:1']]);
    expect(state.workers.get('a:1')).toMatchObject({ jobs: 2, computed: 5, active: 1, since: 1000 });
    expect(state.workers.get('b:2')).toMatchObject({ jobs: 0, computed: 0, active: 0 });
  });

  it('clips per second per worker and in total, and the time left at the pace so far', () => {
    const rates = extractRates({ ...state, now: 11_000 });
    // 5 clips computed in the 10 s since the first job started; worker a the same, b none.
    expect(rates.clipsPerSecond).toBeCloseTo(0.5, 10);
    expect(rates.perWorker).toEqual([
      { name: 'a:1', clipsPerSecond: 0.5, jobs: 2, active: 1 },
      { name: 'b:2', clipsPerSecond: 0, jobs: 0, active: 0 },
    ]);
    // 3 of 10 jobs finished in 10 s: 7 left take 70/3 s.
    expect(rates.etaSeconds).toBeCloseTo(70 / 3, 10);
  });

  it('plain lines: the plan, each failure, a line per tenth, the end with every failure', () => {
    const lines: string[] = [];
    let now = 0;
    const plain = new PlainExtractLines((l) => lines.push(l), () => now);
    plain.emit(plan);
    plain.emit({ type: 'active', job: 'j1', file: '/v/j1.mp4', worker: 'a:1' });
    now = 2000;
    plain.emit(done('j1', 'a:1', 3));
    plain.emit({ type: 'failed', job: 'j4', file: '/v/j4.mp4', reason: '/v/j4.mp4: not a video' });
    plain.emit({ type: 'end', status: 'failed', seconds: 2, done: 1, failed: [{ file: '/v/j4.mp4', reason: '/v/j4.mp4: not a video' }] });
    expect(lines).toEqual([
      'losa extract · backbone tiny · cache /c',
      '12 videos: 2 already in the cache, 10 jobs (30 clips) on q on redis://h:6379: 10 added, 0 already queued',
      '1/10 jobs done (10%) · 0 failed · 0 active · 1.5 clips/s · ETA 18s',
      'failed: /v/j4.mp4: /v/j4.mp4: not a video',
      'extract done in 2.0s: 1 jobs done, 1 failed',
      'failed:',
      '  /v/j4.mp4: /v/j4.mp4: not a video',
    ]);
  });

  it('the dashboard: progress, rates per worker, failures', () => {
    const frame = render(<ExtractDashboard state={{ ...state, now: 11_000 }} />).lastFrame()!;
    expect(frame).toContain('3/10');
    expect(frame).toContain('ETA 23s');
    expect(frame).toContain('done 2 · failed 1 · active 1 · 0.5 clips/s in total');
    expect(frame).toMatch(/a:1\s+0\.5 clips\/s\s+2 jobs\s+1 active/);
    expect(frame).toMatch(/b:2\s+0\.0 clips\/s\s+0 jobs\s+0 active/);
    expect(frame).toContain('failed: /v/j4.mp4: /v/j4.mp4: not a video');
  });

  it('a repeated line (Redis down) is said once in ten seconds', () => {
    const said: string[] = [];
    let now = 0;
    const say = repeatLimited((l) => said.push(l), () => now);
    say('lost');
    now = 9_999;
    say('lost');
    say('other');
    now = 10_000;
    say('lost');
    expect(said).toEqual(['lost', 'other', 'lost']);
  });
});

describe('the lazy backbone', () => {
  let dir: string;
  const config = smallConfig({ imageSize: 32, patchSize: 16, depth: 2 });
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-lazy-'));
    await writeTensors(path.join(dir, 'w.safetensors'), makeTimmWeights(config, 2));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('has the loaded backbone\'s digest before any session, and starts one on the first forward', async () => {
    for (const options of [{ config, weights: path.join(dir, 'w.safetensors'), pool: 'grid:1' }, { config, seed: 3, layers: '2' }] as BackboneOptions[]) {
      let starts = 0;
      const lazy = await openLazyBackbone(options, { onLoad: () => starts++ });
      const eager = await loadBackbone(options);
      try {
        expect(lazy.loaded).toBe(false);
        expect(starts).toBe(0);
        expect(lazy.digest).toBe(eager.digest);
        expect({ ...lazy, forward: 0, dispose: 0, load: 0 }).toMatchObject({ layers: eager.layers, tokens: eager.tokens, width: eager.width, chunk: eager.chunk });
        const frames = randomFrames(config, 2, 1); // [2, 3, S, S]
        const [a, b] = [await lazy.forward(frames, 2), await lazy.forward(frames, 2)];
        expect(starts).toBe(1);
        expect(lazy.loaded).toBe(true);
        expect(Array.from(a)).toEqual(Array.from(await eager.forward(frames, 2)));
        expect(Array.from(b)).toEqual(Array.from(a));
      } finally {
        await lazy.dispose();
        await eager.dispose();
      }
    }
  }, 60_000);

  it('a different weights file gives a different digest', async () => {
    await writeTensors(path.join(dir, 'other.safetensors'), makeTimmWeights(config, 5));
    const a = await openLazyBackbone({ config, weights: path.join(dir, 'w.safetensors') });
    const b = await openLazyBackbone({ config, weights: path.join(dir, 'other.safetensors') });
    expect(a.digest).not.toBe(b.digest);
    await Promise.all([a.dispose(), b.dispose()]);
  });
});

describe('the Redis tests on a machine without redis-server', () => {
  it('fail with a message saying how to install it', () => {
    expect(() => requireRedisServer('/nonexistent/redis-server')).toThrow(/not found: .*apt-get install redis-server/);
  });
});
