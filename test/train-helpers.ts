// Shared by the fault tests of training: a tiny backbone and data set, the built `losa` run in
// a process of its own (so that it can be killed with SIGKILL, as `kill -9` does), and what a
// finished run left behind (its side-network weights, the epochs of its metrics).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensorsFloat32 } from '../src/safetensors.js';
import { synthDataset } from '../src/video/synth.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const cli = path.join(root, 'bin', 'losa.js');

/** A 2-block ViT of width 16 on 32×32 frames: a training step takes milliseconds. */
export const TINY_BACKBONE = {
  name: 'tiny', imageSize: 32, patchSize: 8, width: 16, depth: 2, heads: 2, mlpDim: 32, classToken: true,
  layerNormEps: 1e-6, gelu: 'tanh', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25],
};

/** DIR/data (2 classes, 3 training and `val` validation clips each) and DIR/tiny.json. */
export async function tinySetup(dir: string, seed: number, val = 1): Promise<{ data: string; backbone: string }> {
  const data = path.join(dir, 'data');
  await synthDataset(data, { classes: 2, trainPerClass: 3, valPerClass: val, seconds: 1, width: 64, height: 48, fps: 10, seed, concurrency: 2 });
  const backbone = path.join(dir, 'tiny.json');
  await fs.writeFile(backbone, JSON.stringify(TINY_BACKBONE));
  return { data, backbone };
}

export function requireBuild(): void {
  if (!existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error('dist/ is missing: `npm test` builds it (npm run build)');
}

export interface Spawned {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Process ids of the backbone processes the command started (seen while it ran). */
  backbonePids: number[];
}

export interface SpawnOptions {
  cwd: string;
  env?: Record<string, string>;
  /** Each line of stdout as it comes, with the command's process id (to signal it). */
  onLine?(line: string, pid: number): void;
  /** The command and its arguments instead of `node bin/losa.js` (a wrapper such as unshare). */
  argv0?: string[];
}

/** The built CLI in a process of its own; resolves when it exits, however it exits. */
export function spawnLosa(args: string[], o: SpawnOptions): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const argv = o.argv0 ?? [process.execPath, cli];
    const child = spawn(argv[0]!, [...argv.slice(1), ...args], { cwd: o.cwd, env: { ...process.env, CI: '1', ...o.env } });
    const out: Spawned = { status: null, signal: null, stdout: '', stderr: '', backbonePids: [] };
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      out.stdout += d;
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) o.onLine?.(line, child.pid!);
    });
    child.stderr.on('data', (d) => { out.stderr += d; });
    // The backbone's process is a child of the command's node process: note its id while it runs.
    const watch = setInterval(() => {
      for (const pid of backboneChildren(child.pid!)) if (!out.backbonePids.includes(pid)) out.backbonePids.push(pid);
    }, 25);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearInterval(watch);
      resolve({ ...out, status, signal });
    });
  });
}

/** Backbone processes (backbone/child.js) among the descendants of `pid`. */
function backboneChildren(pid: number): number[] {
  const r = spawnSync('pgrep', ['-f', 'backbone/child.js'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number).filter((p) => isDescendant(p, pid));
}

function isDescendant(pid: number, ancestor: number): boolean {
  for (let p = pid, depth = 0; p > 1 && depth < 8; depth++) {
    if (p === ancestor) return true;
    p = parentOf(p);
  }
  return false;
}

function parentOf(pid: number): number {
  try {
    return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Whether a process has exited (gone, or a zombie nobody reaped yet). */
export function exited(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

/** Waits until every process in `pids` has exited; false if one still runs after `ms`. */
export async function allExit(pids: number[], ms = 15_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!pids.every(exited)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** The side-network tensors of a checkpoint (optimiser state left out). */
export async function sideWeights(file: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await readSafetensorsFloat32(file);
  return new Map([...tensors].filter(([n]) => !n.startsWith('optimizer.')).map(([n, t]) => [n, t.data]));
}

/** The largest difference between two sets of weights with the same names. */
export function maxWeightDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  if ([...a.keys()].join() !== [...b.keys()].join()) return Infinity;
  let diff = 0;
  for (const [name, wa] of a) wa.forEach((v, i) => { diff = Math.max(diff, Math.abs(v - b.get(name)![i]!)); });
  return diff;
}

/** "epoch/split" of every record of a run's metrics.jsonl, in file order. */
export async function metricsEpochs(runDir: string): Promise<string[]> {
  const text = await fs.readFile(path.join(runDir, 'metrics.jsonl'), 'utf8');
  return text.trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; split: string }).map((m) => `${m.epoch}/${m.split}`);
}
