// A thousand inputs with long paths, through the built `losa` command as a shell would run it
// (`losa classify dir/*.mp4`): the command line is about 130 KB. onnxruntime's telemetry once
// matched /proc/self/cmdline with a recursive regex and crashed losa with SIGSEGV above ~15 KB.
// Then a crash of the backbone process itself: one line, the results so far kept, exit 1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsFloat32 } from '../src/safetensors.js';
import { writeVideo } from '../src/video/index.js';
import { makeTimmWeights, smallConfig, writeTensors } from './backbone-helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'losa.js');
const N = 1000;
let dir: string;
let inputs: string[];

interface Run { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Crashes the backbone's process of the losa process `pid` as native code would; returns how many it hit. */
function crashBackbone(pid: number): number {
  const children = spawnSync('pgrep', ['-P', String(pid), '-f', 'backbone/child.js'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
  for (const c of children) process.kill(Number(c), 'SIGSEGV');
  return children.length;
}

const CRASH_LINE = /^losa: error: the backbone process \(onnxruntime, tiny\) crashed \(SIGSEGV\)( while computing features of \d+ frames)?; the results written before it are kept$/;

/** Runs the built CLI in a process of its own, with the arguments on its real command line. */
function losa(args: string[], onStart?: (pid: number) => void, onStdout?: (stdout: string, pid: number) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: dir, env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      onStdout?.(stdout, child.pid!);
    });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
    onStart?.(child.pid!);
  });
}

/** A clip of `t` frames whose colour ramps with `seed`, so the two classes differ. */
function frames(seed: number, t = 6, w = 40, h = 32): Uint8Array[] {
  return Array.from({ length: t }, (_, k) => {
    const f = new Uint8Array(w * h * 3);
    for (let i = 0; i < f.length; i++) f[i] = (seed * 90 + (i % (w * 3)) * 3 + k * 7) % 256;
    return f;
  });
}

beforeAll(async () => {
  if (!existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error('dist/ is missing: `npm test` builds it (npm run build)');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-many-'));
  const config = smallConfig({ name: undefined, imageSize: 32, patchSize: 16, depth: 2 });
  await fs.writeFile(path.join(dir, 'tiny.json'), JSON.stringify(config));
  await writeTensors(path.join(dir, 'tiny.safetensors'), makeTimmWeights(config, 3));
  const clips = [0, 1, 2].map((s) => path.join(dir, `clip${s}.mp4`));
  await Promise.all(clips.map((c, s) => writeVideo(c, frames(s), { width: 40, height: 32, fps: 6 })));
  // A deep folder, as a user's data lives: every path is at least 120 characters.
  const deep = path.join(dir, 'datasets', 'kinetics-400-downloaded-2026', 'train-clips-by-youtube-id', 'shard-0000-of-0100', 'some-longer-folder-name');
  await fs.mkdir(deep, { recursive: true });
  inputs = [];
  for (let i = 0; i < N; i++) {
    const link = path.join(deep, `youtube-video-id-${String(i).padStart(5, '0')}_000010_000020.mp4`);
    await fs.symlink(clips[i % 3]!, link);
    inputs.push(link);
  }
  expect(Math.min(...inputs.map((p) => p.length))).toBeGreaterThanOrEqual(120);
  await fs.writeFile(path.join(dir, 'train.txt'), inputs.map((p, i) => `${p} ${i % 3 === 1 ? 'odd' : 'even'}`).join('\n') + '\n');
}, 120_000);

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const backbone = ['--backbone', 'tiny.json', '--weights', 'tiny.safetensors'];

describe(`${N} inputs with paths of 120+ characters`, () => {
  it('`losa features` writes every one', async () => {
    expect(inputs.join(' ').length).toBeGreaterThan(120_000);
    const r = await losa(['features', ...inputs, ...backbone, '--num-frames', '2', '--out', 'features']);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${N} of ${N} inputs written`);
    expect((await fs.readdir(path.join(dir, 'features'))).length).toBe(N);
  }, 300_000);

  it('`losa train` on a list file of them, then `losa classify` on all of them', async () => {
    const t = await losa(['train', '--data', 'train.txt', '--out', 'run', ...backbone, '--num-frames', '2', '--epochs', '1', '--no-cache', '--no-val', '--no-tui']);
    expect(t.stderr).toBe('');
    expect(t.status).toBe(0);
    expect(t.stdout).toMatch(new RegExp(`${N} train`));
    const c = await losa(['classify', ...inputs, '--checkpoint', 'run', '--json', '--top', '1']);
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    const lines = c.stdout.trim().split('\n').map((l) => JSON.parse(l) as { input: string; top: { label: string }[] });
    expect(lines.map((l) => l.input).sort()).toEqual([...inputs].sort());
    for (const l of lines) expect(['even', 'odd']).toContain(l.top[0]!.label);
  }, 600_000);
});

describe('a crash of the backbone process', () => {
  it('is one line naming it; the features written before it are kept; exit 1', async () => {
    const out = path.join(dir, 'crash');
    let killed = 0;
    const r = await losa(['features', ...inputs.slice(0, 300), ...backbone, '--num-frames', '2', '--out', 'crash'], (pid) => {
      // Once a few results are out, crash the backbone's process as native code would.
      const poll = setInterval(() => {
        void fs.readdir(out).then((files) => {
          if (files.filter((f) => f.endsWith('.safetensors')).length < 5 || killed) return;
          killed = crashBackbone(pid);
          clearInterval(poll);
        }, () => undefined);
      }, 20);
    });
    expect(killed).toBe(1);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0], r.stderr).toMatch(CRASH_LINE);
    const written = (await fs.readdir(out)).filter((f) => f.endsWith('.safetensors'));
    expect(written.length).toBeGreaterThanOrEqual(5);
    expect(written.length).toBeLessThan(300);
    for (const f of written) {
      const { tensors } = await readSafetensorsFloat32(path.join(out, f));
      expect(tensors.get('features')!.shape).toEqual([2, 2, 5, 32]);
    }
  }, 300_000);

  it('in `losa classify`: the same line, and every result printed before it is kept whole', async () => {
    let killed = 0;
    const r = await losa(['classify', ...inputs.slice(0, 300), '--checkpoint', 'run', '--json', '--top', '1'], undefined, (stdout, pid) => {
      if (!killed && stdout.split('\n').length > 5) killed = crashBackbone(pid);
    });
    expect(killed).toBe(1);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0], r.stderr).toMatch(CRASH_LINE);
    const results = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { input: string; top?: { label: string }[] });
    expect(results.length).toBeGreaterThanOrEqual(5);
    expect(results.length).toBeLessThan(300);
    for (const [i, res] of results.entries()) {
      expect(res.input).toBe(inputs[i]);
      expect(['even', 'odd']).toContain(res.top![0]!.label);
    }
  }, 300_000);
});
