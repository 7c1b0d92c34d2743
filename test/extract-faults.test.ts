// The queue's faults and its security, against real Redis servers, through the built command:
// an unreachable Redis is one line naming the URL (password masked); a password and TLS
// (rediss://) work and the password appears nowhere in what losa prints; Redis restarting in
// the middle of a run: the workers and the extract reconnect and the run completes.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthDataset } from '../src/video/synth.js';
import { jsonLines, requireBuild, spawnLosa, type LosaProcess } from './cli-process.js';
import { freePort, startRedis, type RedisServer } from './redis-server.js';

let dir: string;
const servers: RedisServer[] = [];
const RUN = ['--data', 'data', '--backbone', 'tiny.json', '--num-frames', '4'];
// Characters a URL must encode, so that both spellings of the password are looked for.
const PASSWORD = 'pa ss/w@rd:42';

beforeAll(async () => {
  requireBuild();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-faults-'));
  await synthDataset(path.join(dir, 'data'), { classes: 2, trainPerClass: 2, valPerClass: 1, seconds: 1, width: 64, height: 48, fps: 10, seed: 3, concurrency: 2 });
  await fs.writeFile(path.join(dir, 'tiny.json'), JSON.stringify({
    name: 'tiny', imageSize: 32, patchSize: 16, width: 16, depth: 2, heads: 2, mlpDim: 32, classToken: true,
    layerNormEps: 1e-6, gelu: 'tanh', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25],
  }));
}, 60_000);

afterAll(async () => {
  for (const s of servers) await s.remove();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function server(options: Parameters<typeof startRedis>[0] = {}): Promise<RedisServer> {
  const s = await startRedis(options);
  servers.push(s);
  return s;
}

function expectNoPassword(text: string): void {
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(encodeURIComponent(PASSWORD));
}

/** One worker and one extract on `url`, into `cache`; both outputs, once the extract is done and the worker stopped. */
async function extractWith(url: string, cache: string, env: NodeJS.ProcessEnv = {}): Promise<{ extract: LosaProcess; worker: LosaProcess }> {
  const worker = spawnLosa(['worker', '--redis', url, '--stall-seconds', '5'], { cwd: dir, env });
  await worker.waitForLine((l) => l.startsWith('losa worker '));
  const extract = spawnLosa(['extract', ...RUN, '--cache', cache, '--redis', url, '--no-tui'], { cwd: dir, env });
  const done = await extract.exited;
  worker.child.kill('SIGTERM');
  expect(await worker.exited).toEqual({ status: 0, signal: null });
  expect(done.status, extract.output()).toBe(0);
  return { extract, worker };
}

const ENTRIES = 4 * 2 + 2; // 4 training videos × 2 cached views + 2 validation videos

async function entriesIn(cache: string): Promise<number> {
  const names = await fs.readdir(path.join(dir, cache), { recursive: true });
  return names.filter((n) => n.endsWith('.safetensors') && !path.basename(n).startsWith('.')).length;
}

describe('Redis unreachable', () => {
  it('is one line naming the URL, with the password masked, for extract and worker', async () => {
    const port = await freePort();
    const url = `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/0`;
    const shown = `redis://:***@127.0.0.1:${port}/0`;
    for (const args of [['extract', ...RUN, '--cache', 'never', '--redis', url], ['worker', '--redis', url]]) {
      const p = spawnLosa(args, { cwd: dir });
      expect((await p.exited).status).toBe(1);
      expect(p.stdout()).toBe('');
      expect(p.stderr()).toBe(`losa: error: cannot reach Redis at ${shown}: connect ECONNREFUSED 127.0.0.1:${port}\n`);
      expectNoPassword(p.output());
    }
    // The same from the environment.
    const fromEnv = spawnLosa(['worker'], { cwd: dir, env: { LOSA_REDIS_URL: url } });
    expect((await fromEnv.exited).status).toBe(1);
    expect(fromEnv.stderr()).toBe(`losa: error: cannot reach Redis at ${shown}: connect ECONNREFUSED 127.0.0.1:${port}\n`);
  }, 60_000);
});

describe('a Redis with a password', () => {
  it('works, and the password appears nowhere in what extract and worker print', async () => {
    const redis = await server({ password: PASSWORD });
    const { extract, worker } = await extractWith(redis.url, 'cache-password');
    expect(await entriesIn('cache-password')).toBe(ENTRIES);
    expect(worker.stdout()).toContain(`on redis://:***@127.0.0.1:${redis.port}`);
    expect(extract.stdout()).toContain(`on redis://:***@127.0.0.1:${redis.port}`);
    expectNoPassword(extract.output() + worker.output());
  }, 120_000);

  it('a wrong password is one line, without the password given', async () => {
    const redis = await server({ password: PASSWORD });
    const wrong = redis.url.replace(encodeURIComponent(PASSWORD), 'not-it-1234');
    const p = spawnLosa(['worker', '--redis', wrong], { cwd: dir });
    expect((await p.exited).status).toBe(1);
    expect(p.stderr()).toMatch(new RegExp(`^losa: error: cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}: WRONGPASS[^\\n]*\\n$`));
    expect(p.output()).not.toContain('not-it-1234');
  }, 60_000);
});

describe('Redis over TLS (rediss://) with a password', () => {
  it('works with the server\'s CA trusted; without it, one line', async () => {
    const redis = await server({ password: PASSWORD, tls: true });
    const { extract, worker } = await extractWith(redis.url, 'cache-tls', { NODE_EXTRA_CA_CERTS: redis.caFile });
    expect(await entriesIn('cache-tls')).toBe(ENTRIES);
    expect(worker.stdout()).toContain(`on rediss://:***@localhost:${redis.port}`);
    expectNoPassword(extract.output() + worker.output());

    const untrusted = spawnLosa(['worker', '--redis', redis.url], { cwd: dir });
    expect((await untrusted.exited).status).toBe(1);
    expect(untrusted.stderr()).toMatch(new RegExp(`^losa: error: cannot reach Redis at rediss://:\\*\\*\\*@localhost:${redis.port}: [^\\n]*certificate[^\\n]*\\n$`));
    expectNoPassword(untrusted.output());
  }, 120_000);
});

describe('Redis restarting in the middle of a run', () => {
  it('the workers and the extract reconnect, and the run completes', async () => {
    const redis = await server({ appendonly: true });
    const workers = [0, 1].map(() => spawnLosa(['worker', '--redis', redis.url, '--concurrency', '1', '--stall-seconds', '3'], { cwd: dir }));
    for (const w of workers) await w.waitForLine((l) => l.startsWith('losa worker '));
    const extract = spawnLosa(['extract', ...RUN, '--cache', 'cache-restart', '--cache-views', '4', '--redis', redis.url, '--json'], { cwd: dir });
    await extract.waitForLine((l) => l.includes('"type":"done"'));
    await redis.restart();
    // The restart came in the middle: jobs were left to do after it.
    const doneBefore = jsonLines<{ type: string }>(extract.stdout()).filter((e) => e.type === 'done').length;
    expect(doneBefore).toBeLessThan(6);
    expect((await extract.exited).status, extract.output()).toBe(0);
    const end = jsonLines<{ type: string; done?: number; failed?: unknown[] }>(extract.stdout()).find((e) => e.type === 'end');
    expect(end).toMatchObject({ done: 6, failed: [] });
    expect(await entriesIn('cache-restart')).toBe(4 * 4 + 2);
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) expect((await w.exited).status, w.output()).toBe(0);
    const said = workers.map((w) => w.output()).join('');
    expect(said).toContain(`warning: lost the connection to Redis at ${redis.url}`);
  }, 180_000);
});
