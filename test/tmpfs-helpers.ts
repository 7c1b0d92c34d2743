// A small tmpfs in a mount namespace of the test's own, to fill a disk for real:
// `unshare --user --map-root-user --mount` (any user, where user namespaces are allowed), or
// `unshare --mount` as root. Tests that need one skip, saying so on stderr, where neither works.
import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';
import { cli, root } from './train-helpers.js';

/** The first way of mounting a tmpfs privately that works here, or null. */
export function findNamespace(probe: string): string[] | null {
  const ways = [['unshare', '--user', '--map-root-user', '--mount'], ['unshare', '--mount']];
  for (const way of ways) {
    const r = spawnSync(way[0]!, [...way.slice(1), 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$0"', probe], { encoding: 'utf8' });
    if (r.status === 0) return way;
  }
  return null;
}

export const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A shell line running the built CLI with `args`, its output and status into `<dir>/<name>.{out,err,status}`. */
export function losaLine(dir: string, args: string[], name: string): string {
  const at = (ext: string): string => quote(`${dir}/${name}.${ext}`);
  return `${[process.execPath, cli, ...args].map(quote).join(' ')} > ${at('out')} 2> ${at('err')}; echo $? > ${at('status')}`;
}

/** Runs `lines` (shell) in a private mount namespace with a tmpfs of `size` at `mnt`. */
export function inNamespace(namespace: string[], mnt: string, size: string, lines: string[]): void {
  const script = ['set -u', `mount -t tmpfs -o size=${size} tmpfs ${quote(mnt)} || exit 90`, ...lines].join('\n');
  const r = spawnSync(namespace[0]!, [...namespace.slice(1), 'sh', '-c', script], { cwd: root, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  expect(r.status, r.stderr).toBe(0);
}
