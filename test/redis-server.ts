// A real Redis server for the tests: Debian's `redis-server` (or $LOSA_REDIS_SERVER), started on a
// free port in a temporary folder, with no persistence unless asked (AOF, to survive a restart),
// optionally with a password and TLS (a throwaway CA and server certificate made with openssl).
// `npm test` installs redis-server first when it is missing and it can (scripts/ensure-redis.js);
// where it cannot, these tests fail with a message saying how to install it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RedisOptions {
  password?: string;
  /** Serve TLS only (rediss://), with a certificate for localhost and 127.0.0.1 signed by `caFile`. */
  tls?: boolean;
  /** Append-only file on, so that the queue survives `restart()`. */
  appendonly?: boolean;
}

export interface RedisServer {
  port: number;
  /** redis:// (or rediss://localhost) URL with the password, if any. */
  url: string;
  /** The CA that signed the TLS certificate (give it to clients as NODE_EXTRA_CA_CERTS). */
  caFile?: string;
  dir: string;
  /** Shuts the server down (it writes its AOF) and starts it again on the same port and folder. */
  restart(): Promise<void>;
  /** Shuts it down: the server only; the folder stays until `remove`. */
  stop(): Promise<void>;
  remove(): Promise<void>;
}

const SERVER = process.env.LOSA_REDIS_SERVER ?? 'redis-server';

export const INSTALL_HINT =
  `the Redis tests need \`${SERVER}\` (Redis 6.2 or newer) on PATH: on Debian or Ubuntu \`apt-get install redis-server\` ` +
  '(`npm test` does it when run as root), on macOS `brew install redis`; or set LOSA_REDIS_SERVER to its path';

/** Fails with INSTALL_HINT when there is no redis-server to run. */
export function requireRedisServer(server = SERVER): void {
  const probe = spawnSync(server, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error(`${server} not found: ${INSTALL_HINT}`);
}

/** A port nothing listens on now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? r.stderr}`);
}

/** A CA and a server certificate for localhost and 127.0.0.1, valid for a day. */
async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  await fs.writeFile(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=losa test CA'], dir);
  run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  run('openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'san.ext'], dir);
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
}

/** Waits until the server says it accepts connections; rejects if it exits first. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += String(d);
      if (out.includes('Ready to accept connections')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready: ${out.slice(-500)}`)));
  });
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  requireRedisServer();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-redis-'));
  const port = await freePort();
  const args = ['--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', options.appendonly ? 'yes' : 'no', '--daemonize', 'no'];
  if (options.appendonly) args.push('--appendfsync', 'always');
  if (options.password) args.push('--requirepass', options.password);
  let caFile: string | undefined;
  if (options.tls) {
    const files = await makeCertificates(dir);
    caFile = files.ca;
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', files.cert, '--tls-key-file', files.key, '--tls-ca-cert-file', files.ca, '--tls-auth-clients', 'no');
  } else {
    args.push('--port', String(port));
  }
  let child: ChildProcess;
  const start = async (): Promise<void> => {
    child = spawn(SERVER, args, { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    await ready(child);
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM'); // Redis shuts down cleanly on SIGTERM, writing its AOF
    await exited;
  };
  await start();
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  return {
    port,
    url: options.tls ? `rediss://${auth}localhost:${port}` : `redis://${auth}127.0.0.1:${port}`,
    ...(caFile ? { caFile } : {}),
    dir,
    async restart() {
      await stop();
      await start();
    },
    stop,
    async remove() {
      await stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
