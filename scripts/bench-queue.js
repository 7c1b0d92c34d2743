#!/usr/bin/env node
// Extraction through the queue, side by side in one run, on one machine:
//   in-process   `losa extract` without Redis (one backbone, --workers 2 jobs at once)
//   1 worker     one `losa worker --concurrency 2 --threads <cores>` and `losa extract --redis`
//   2 workers    two `losa worker --concurrency 1 --threads <cores/2>` and `losa extract --redis`
// each into a fresh cache (the same jobs, the same entries), timed from the extract's start to its
// end (the workers are started and idle before, and load their backbone on their first job, as
// the in-process run loads its own). Then the queue's own cost per job: a no-op job function,
// 500 jobs added and followed to completion through BullMQ on the same Redis.
// On a machine with 2 cores the workers share the same two cores, so 2 workers show the
// queue's overhead, not a speed-up; on N machines the backbone time divides by N.
//
// Usage: node scripts/bench-queue.js [--videos 32] [--noop-jobs 500]   (npm run build first)
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { JobQueue, startWorker } from '../dist/extract/queue.js';
import { parseRedisUrl } from '../dist/extract/redis-url.js';
import { root } from './losa-cli.js';

const { values } = parseArgs({ options: { videos: { type: 'string', default: '32' }, 'noop-jobs': { type: 'string', default: '500' } } });
const cores = os.availableParallelism();
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bench-queue-'));
const cli = path.join(root, 'bin', 'losa.js');

// The data: `--videos` synthetic training clips (2 classes, 2 s at 160×120) and 4 validation clips.
const perClass = Math.max(1, Math.round(Number(values.videos) / 2));
run(['data', 'synth', path.join(dir, 'data'), '--classes', '2', '--train-per-class', String(perClass), '--val-per-class', '2']);

function run(args) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  if (r.status !== 0 && args[0] !== 'extract') throw new Error(`losa ${args[0]}: ${r.stderr}`);
  return r;
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const port = await freePort();
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((resolve, reject) => {
  let out = '';
  redis.stdout.on('data', (d) => { out += d; if (out.includes('Ready to accept')) resolve(); });
  redis.on('exit', () => reject(new Error(`redis-server did not start: ${out}`)));
});
const url = `redis://127.0.0.1:${port}`;

/** Starts `n` workers, waits until each says it is up; returns a stop function. */
async function workers(n, concurrency, threads) {
  const procs = Array.from({ length: n }, () => spawn(process.execPath, [
    cli, 'worker', '--redis', url, '--queue', `bench-${n}`, '--concurrency', String(concurrency), '--threads', String(threads),
  ], { stdio: ['ignore', 'pipe', 'inherit'] }));
  await Promise.all(procs.map((p) => new Promise((resolve) => {
    let out = '';
    p.stdout.on('data', (d) => { out += d; if (out.includes('losa worker ')) resolve(); });
  })));
  return async () => {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((resolve) => p.on('close', resolve))));
  };
}

/** One extract into a fresh cache: seconds, jobs and clips. */
function extract(name, extra) {
  const started = performance.now();
  const r = run(['extract', '--data', path.join(dir, 'data'), '--cache', path.join(dir, `cache-${name}`), '--json', ...extra]);
  const seconds = (performance.now() - started) / 1000;
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const end = events.find((e) => e.type === 'end');
  if (!end || end.status !== 'done') throw new Error(`extract ${name}: ${r.stderr || JSON.stringify(end)}`);
  const plan = events.find((e) => e.type === 'plan');
  return { name, seconds, jobs: plan.jobs, clips: plan.clips };
}

const rows = [];
rows.push(extract('in-process', ['--workers', '2']));
let stop = await workers(1, 2, cores);
rows.push(extract('1 worker', ['--redis', url, '--queue', 'bench-1']));
await stop();
stop = await workers(2, 1, Math.max(1, Math.floor(cores / 2)));
rows.push(extract('2 workers', ['--redis', url, '--queue', 'bench-2']));
await stop();

// The queue alone: add N jobs, a worker whose job function does nothing, follow to the end.
const target = parseRedisUrl(url);
const N = Number(values['noop-jobs']);
const queue = await JobQueue.open(target, 'bench-noop', () => undefined);
const worker = await startWorker(target, 'bench-noop', async () => ({}), { concurrency: 1, name: 'noop', onError: () => undefined });
let completed = 0;
let allDone;
const finished = new Promise((resolve) => (allDone = resolve));
const stopEvents = await queue.follow({ progress() {}, stalled() {}, failed() {}, completed() { if (++completed === N) allDone(); } }, () => undefined);
const t0 = performance.now();
await queue.enqueue(Array.from({ length: N }, (_, i) => ({ id: `noop-${i}`, name: 'noop', data: {} })));
await finished;
const noopMs = (performance.now() - t0) / N;
await stopEvents();
await worker.close(1000);
await queue.close();
redis.kill('SIGTERM');

const base = rows[0];
console.log(`extraction through the queue · ${base.jobs} jobs (${base.clips} clips), vit-ti16 at 224, grid:2 · ${cores} × ${os.cpus()[0]?.model ?? 'CPU'}`);
console.log('mode          seconds  clips/s  vs in-process  difference per job');
for (const r of rows) {
  const perJob = r === base ? '' : `${(((r.seconds - base.seconds) * 1000) / r.jobs).toFixed(0).padStart(6)} ms`;
  console.log(`${r.name.padEnd(12)} ${r.seconds.toFixed(1).padStart(8)} ${(r.clips / r.seconds).toFixed(2).padStart(8)} ${(base.seconds / r.seconds).toFixed(2).padStart(13)}×  ${perJob}`);
}
console.log(`BullMQ round trip of a job that does nothing (add, take, complete, event), ${N} jobs: ${noopMs.toFixed(2)} ms per job`);
await fs.rm(dir, { recursive: true, force: true });
