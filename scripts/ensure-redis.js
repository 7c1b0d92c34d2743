#!/usr/bin/env node
// Run by `npm test` before the tests (the `pretest` script). The queue's tests start a real
// Redis server: Debian's `redis-server` (or $LOSA_REDIS_SERVER), and `openssl` for the TLS test.
// When they are missing and this runs as root on a machine with apt-get, they are installed
// (saying so); otherwise this says how to install them, and those tests fail with the same hint.
import { spawnSync } from 'node:child_process';

const server = process.env.LOSA_REDIS_SERVER ?? 'redis-server';
const runs = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
};
const missing = [
  ...(runs(server, ['--version']) ? [] : ['redis-server']),
  ...(runs('openssl', ['version']) ? [] : ['openssl']),
];
if (missing.length === 0) process.exit(0);

const hint = 'on Debian or Ubuntu `sudo apt-get install redis-server openssl`, on macOS `brew install redis openssl`, or set LOSA_REDIS_SERVER';
const root = process.getuid?.() === 0;
if (!root || !runs('apt-get', ['--version'])) {
  console.log(`pretest: ${missing.join(' and ')} not found, and this is not root on a machine with apt-get: the Redis tests will fail; install it: ${hint}`);
  process.exit(0);
}
console.log(`pretest: ${missing.join(' and ')} not found: installing Debian's package (apt-get install -y --no-install-recommends ${missing.join(' ')})`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const install = () => spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
let result = install();
if (result.status !== 0) {
  // A fresh machine has no package lists yet.
  spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  result = install();
}
if (result.status !== 0) console.log(`pretest: the install failed: the Redis tests will fail; ${hint}`);
