// `losa extract` on a queue with `losa worker` processes, against a real Redis server, through
// the built command. Three workers, one killed with SIGKILL in the middle of a job: its job goes
// to another worker (stalled-job recovery), and the shared cache ends up with every entry once,
// equal byte for byte to a single-process `losa extract` and, for the validation views, to
// `losa features`. A broken video fails its job alone, with its reason, listed at the end. Two
// extracts at once, and a third later, add no job twice. Then `losa train --cache` on the result
// never starts the backbone (a preload records every backbone process that starts).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsFile, readSafetensorsFloat32 } from '../src/safetensors.js';
import { H264_ARGS, synthDataset, writeVideo } from '../src/video/synth.js';
import { makeTimmWeights, smallConfig, writeTensors } from './backbone-helpers.js';
import { jsonLines, requireBuild, spawnLosa, type LosaProcess } from './cli-process.js';
import { startRedis, type RedisServer } from './redis-server.js';

let dir: string;
let redis: RedisServer;
const LONG = 'data/train/moving-left/0-long.mp4';
const BROKEN = 'data/train/moving-right/zz-broken.mp4';
// Training's options, as extract and train are both given them (six cached views: the long
// video's job takes a while, so the worker is killed in the middle of it).
const RUN = ['--data', 'data', '--backbone', 'tiny.json', '--weights', 'tiny.safetensors', '--num-frames', '4', '--cache-views', '6'];

/**
 * A 20 s 480×360 clip with one keyframe (so a seek cannot skip any of it): decoding its six
 * views keeps a worker busy for a second or more, long enough to be stopped in the middle.
 */
function* longFrames(): Generator<Uint8Array> {
  const w = 480, h = 360;
  for (let k = 0; k < 500; k++) {
    const f = new Uint8Array(w * h * 3);
    for (let i = 0; i < f.length; i++) f[i] = ((i % (w * 3)) + k * 5 + Math.floor(i / (w * 3))) & 255;
    yield f;
  }
}

beforeAll(async () => {
  requireBuild();
  redis = await startRedis();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-extract-'));
  await synthDataset(path.join(dir, 'data'), { classes: 2, trainPerClass: 3, valPerClass: 1, seconds: 1, width: 64, height: 48, fps: 10, seed: 5, concurrency: 2 });
  await writeVideo(path.join(dir, LONG), longFrames(), { width: 480, height: 360, fps: 25, codecArgs: [...H264_ARGS, '-g', '1000', '-sc_threshold', '0'] });
  await fs.writeFile(path.join(dir, BROKEN), Buffer.alloc(4096, 7));
  const config = smallConfig({ name: 'tiny', imageSize: 32, patchSize: 16, width: 16, depth: 2 });
  await fs.writeFile(path.join(dir, 'tiny.json'), JSON.stringify(config));
  await writeTensors(path.join(dir, 'tiny.safetensors'), makeTimmWeights(config, 4));
}, 120_000);

afterAll(async () => {
  await redis?.remove();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

/** Every file under `root`, relative, sorted. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name))).sort();
}

type Event = { type: string; worker?: string; file?: string; job?: string; status?: string; added?: number; inQueue?: number; jobs?: number; cached?: number; failed?: { file: string; reason: string }[] };

const workerName = (p: LosaProcess): string => `${os.hostname()}:${p.pid}`;

describe('extraction on three workers through Redis, one killed mid-job', () => {
  const queue = (): string[] => ['--redis', redis.url, '--queue', 'killed'];
  const startWorker = (): LosaProcess => spawnLosa(['worker', ...queue(), '--concurrency', '1', '--stall-seconds', '2', '--grace', '5'], { cwd: dir });
  let survivors: LosaProcess[] = [];

  afterAll(() => {
    for (const w of survivors) w.child.kill('SIGKILL');
  });

  it('every entry once, equal to a single-process run; the broken video alone fails; nothing is queued twice', async () => {
    // The reference: the same jobs in one process, no Redis.
    const reference = spawnLosa(['extract', ...RUN, '--cache', 'reference', '--json'], { cwd: dir });
    expect((await reference.exited).status).toBe(1); // the broken video
    expect(reference.stderr()).toBe('');

    const w1 = startWorker();
    await w1.waitForLine((l) => l.startsWith('losa worker '));
    const a = spawnLosa(['extract', ...RUN, '--cache', 'shared', ...queue(), '--json'], { cwd: dir });
    // The queue is first in, first out and the long video is the data set's first: w1 takes it.
    const active = JSON.parse(await a.waitForLine((l) => l.includes('"active"') && l.includes(workerName(w1)))) as Event;
    expect(active.file).toBe(path.join(dir, LONG));
    // A second extract while the first is queued adds nothing and follows the same jobs.
    const b = spawnLosa(['extract', ...RUN, '--cache', 'shared', ...queue(), '--json'], { cwd: dir });
    const planA = JSON.parse(await a.waitForLine((l) => l.includes('"plan"'))) as Event;
    const planB = JSON.parse(await b.waitForLine((l) => l.includes('"plan"'))) as Event;
    expect(planA).toMatchObject({ videos: 10, cached: 0, jobs: 10, added: 10, inQueue: 0 });
    expect(planB).toMatchObject({ jobs: 10, added: 0, inQueue: 10 });

    w1.child.kill('SIGKILL');
    expect((await w1.exited).signal).toBe('SIGKILL');
    survivors = [startWorker(), startWorker()];
    const [endA, endB] = await Promise.all([a, b].map(async (p) => {
      expect((await p.exited).status).toBe(1);
      expect(p.stderr()).toBe('');
      return jsonLines<Event>(p.stdout());
    }));
    for (const events of [endA!, endB!]) {
      const end = events.find((e) => e.type === 'end')!;
      expect(end.failed).toHaveLength(1);
      expect(end.failed![0]!.file).toBe(path.join(dir, BROKEN));
      expect(end.failed![0]!.reason).toMatch(/zz-broken\.mp4: \S/);
      expect(end.failed![0]!.reason).not.toContain('\n');
      expect(end).toMatchObject({ status: 'failed', done: 9 });
    }
    // The killed worker's job went back to the queue and another worker did it.
    const longJob = active.job!;
    expect(endA!.some((e) => e.type === 'stalled' && e.job === longJob)).toBe(true);
    const longDone = endA!.find((e) => e.type === 'done' && e.job === longJob)!;
    expect(survivors.map(workerName)).toContain(longDone.worker);

    // Every entry once, nothing half-written left behind, equal to the single-process run.
    const shared = await filesUnder(path.join(dir, 'shared'));
    expect(shared).toEqual(await filesUnder(path.join(dir, 'reference')));
    expect(shared).toHaveLength(7 * 6 + 2); // 7 readable training videos × 6 views + 2 validation videos
    expect(shared.filter((f) => path.basename(f).startsWith('.'))).toEqual([]);
    for (const f of shared) {
      expect(await fs.readFile(path.join(dir, 'shared', f)), f).toEqual(await fs.readFile(path.join(dir, 'reference', f)));
    }

    // Run again: only the broken video's job is added (to fail again); the rest is cached.
    const again = spawnLosa(['extract', ...RUN, '--cache', 'shared', ...queue(), '--json'], { cwd: dir });
    expect((await again.exited).status).toBe(1);
    expect(jsonLines<Event>(again.stdout()).find((e) => e.type === 'plan')).toMatchObject({ videos: 10, cached: 9, jobs: 1, added: 1, inQueue: 0 });
    expect(await filesUnder(path.join(dir, 'shared'))).toEqual(shared);

    // SIGTERM: the workers finish and exit 0.
    for (const w of survivors) w.child.kill('SIGTERM');
    for (const w of survivors) {
      expect(await w.exited).toEqual({ status: 0, signal: null });
      expect(w.stdout()).toMatch(/^stopped: \d+ jobs done, \d+ failed$/m);
      expect(w.stderr()).toBe('');
    }
  }, 240_000);

  it('the validation entries equal `losa features` of the same clips', async () => {
    const vals = (await filesUnder(path.join(dir, 'data', 'val'))).map((f) => path.join(dir, 'data', 'val', f));
    expect(vals).toHaveLength(2);
    const features = spawnLosa(['features', ...vals, '--backbone', 'tiny.json', '--weights', 'tiny.safetensors', '--num-frames', '4', '--out', 'features/'], { cwd: dir });
    expect((await features.exited).status).toBe(0);
    // Each entry names its video in its metadata; a validation video has its test view alone.
    const entries: { video: string; file: string }[] = [];
    for (const file of await filesUnder(path.join(dir, 'shared'))) {
      const st = await SafetensorsFile.open(path.join(dir, 'shared', file));
      entries.push({ video: st.metadata.path!, file });
      await st.close();
    }
    for (const video of vals) {
      const mine = entries.filter((e) => e.video === video).map((e) => e.file);
      expect(mine).toHaveLength(1);
      const cached = (await readSafetensorsFloat32(path.join(dir, 'shared', mine[0]!))).tensors.get('features')!;
      const fresh = (await readSafetensorsFloat32(path.join(dir, 'features', `${path.basename(video, '.mp4')}.safetensors`))).tensors.get('features')!;
      expect(cached.shape).toEqual([1, ...fresh.shape]);
      expect(Array.from(cached.data)).toEqual(Array.from(fresh.data));
    }
  }, 120_000);
});

describe('a worker stopped with SIGTERM in the middle of a job', () => {
  it('hands the job back after --grace, exits 0, and another worker does it', async () => {
    const queue = ['--redis', redis.url, '--queue', 'handback'];
    const first = spawnLosa(['worker', ...queue, '--concurrency', '1', '--grace', '0'], { cwd: dir });
    await first.waitForLine((l) => l.startsWith('losa worker '));
    const extract = spawnLosa(['extract', ...RUN, '--cache', 'handback', ...queue, '--json'], { cwd: dir });
    await extract.waitForLine((l) => l.includes('"active"') && l.includes(workerName(first)) && l.includes('0-long.mp4'));
    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ status: 0, signal: null });
    expect(first.stdout()).toContain(`handed back ${path.join(dir, LONG)}`);
    expect(first.stdout()).toContain('stopped: 0 jobs done, 0 failed');
    const second = spawnLosa(['worker', ...queue, '--concurrency', '2'], { cwd: dir });
    expect((await extract.exited).status).toBe(1); // the broken video
    const end = jsonLines<Event>(extract.stdout()).find((e) => e.type === 'end')!;
    expect(end).toMatchObject({ done: 9 });
    expect(end.failed!.map((f) => f.file)).toEqual([path.join(dir, BROKEN)]);
    expect(await filesUnder(path.join(dir, 'handback'))).toEqual(await filesUnder(path.join(dir, 'reference')));
    second.child.kill('SIGTERM');
    expect((await second.exited).status).toBe(0);
  }, 180_000);
});

describe('`losa train --cache` on an extracted cache', () => {
  it('never starts the backbone, and says so; on an empty cache it does', async () => {
    const marks = path.join(dir, 'marks');
    const preload = path.join(dir, 'mark-backbone.mjs');
    // Loaded in every process of the command, the backbone's own included (it inherits the flag).
    await fs.writeFile(preload, `import { appendFileSync } from 'node:fs';
if (process.argv[1]?.endsWith('child.js')) appendFileSync(process.env.MARKS, 'backbone process\\n');\n`);
    const train = (cache: string, out: string): LosaProcess => spawnLosa(
      ['train', ...RUN, '--cache', cache, '--epochs', '2', '--batch-size', '4', '--out', out, '--no-tui'],
      { cwd: dir, env: { MARKS: marks }, nodeArgs: ['--import', pathToFileURL(preload).href] },
    );
    const onCache = train('shared', 'run-cached');
    expect((await onCache.exited).status).toBe(0);
    expect(await fs.readFile(marks, 'utf8').catch(() => '')).toBe('');
    expect(onCache.stdout()).toContain('backbone not loaded: features come from the cache');
    expect(onCache.stdout()).toContain("the backbone was never started: every clip's features came from the cache");
    expect(onCache.stdout()).not.toContain('starting the backbone');

    const fresh = train('fresh-cache', 'run-fresh');
    expect((await fresh.exited).status).toBe(0);
    expect(await fs.readFile(marks, 'utf8')).toBe('backbone process\n');
    expect(fresh.stdout()).toContain("starting the backbone: a clip's features are not in the cache");
    // The two runs saw the same features: the same metrics.
    const metrics = async (run: string): Promise<string> => fs.readFile(path.join(dir, run, 'metrics.jsonl'), 'utf8');
    const strip = (text: string): unknown[] => text.trim().split('\n').map((l) => {
      const { seconds: _s, fromCache: _c, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
    expect(strip(await metrics('run-cached'))).toEqual(strip(await metrics('run-fresh')));
  }, 180_000);
});
