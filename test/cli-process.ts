// The built `losa` command (bin/losa.js, dist/ built by `npm test`) in a process of its own, as
// a shell would run it, with its output watched line by line while it runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(root, 'bin', 'losa.js');

export function requireBuild(): void {
  if (!existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error('dist/ is missing: `npm test` builds it (npm run build)');
}

export interface LosaProcess {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr together, in arrival order. */
  output(): string;
  /** Resolves with the first stdout line that `match` accepts (lines seen before count too); rejects if the process ends first. */
  waitForLine(match: (line: string) => boolean): Promise<string>;
  exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Node flags before the script (e.g. --import a preload). */
  nodeArgs?: string[];
}

export function spawnLosa(args: string[], options: SpawnOptions): LosaProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], {
    cwd: options.cwd, env: { ...process.env, CI: '1', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let all = '';
  const waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  let pending = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += String(d);
    all += String(d);
    pending += String(d);
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      for (const w of [...waiters]) {
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += String(d);
    all += String(d);
  });
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (status, signal) => resolve({ status, signal }));
  });
  return {
    child,
    pid: child.pid!,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => all,
    waitForLine(match) {
      const seen = stdout.split('\n').find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void exited.then(({ status, signal }) => reject(new Error(`losa ${args[0]} ended (${status ?? signal}) before the line awaited; output:\n${all.slice(-2000)}`)));
      });
    },
    exited,
  };
}

/** The NDJSON objects a process printed so far. */
export function jsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as T);
}
