// For the benchmarks that drive the `losa` command: the repository root, `losa(...args)`
// (runs bin/losa.js, returns its stdout, throws with its stderr on failure) and the demo data
// set, made with `losa data synth` when it is missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const demoData = path.join(root, 'video', 'demo');

export function losa(...args) {
  const res = spawnSync(process.execPath, [path.join(root, 'bin', 'losa.js'), ...args], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`losa ${args[0]} failed: ${res.stderr}`);
  return res.stdout;
}

/** Makes the synthetic data set at `dir` unless it has a train split already. */
export function ensureSynthData(dir) {
  if (!existsSync(path.join(dir, 'train'))) losa('data', 'synth', dir);
}
