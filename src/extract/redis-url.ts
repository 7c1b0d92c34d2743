// A Redis URL as losa takes it (`--redis`, `$LOSA_REDIS_URL`): redis://[user][:password]@host[:port][/db],
// or rediss:// for TLS. The password is needed to connect and must never be shown: every message,
// log line and dashboard shows `display`, where it is `***`, and `redact` takes it out of any
// text that may have picked it up (a client library's error message).
import { UsageError } from '../errors.js';

/** The environment variable that stands for `--redis`. */
export const REDIS_URL_ENV = 'LOSA_REDIS_URL';

export const DEFAULT_REDIS_PORT = 6379;

export interface RedisTarget {
  /** The URL with its password replaced by `***`: the only form that is ever shown. */
  display: string;
  /** Connection options for the Redis client (ioredis). */
  options: {
    host: string;
    port: number;
    username?: string;
    password?: string;
    db?: number;
    /** TLS (rediss://), checking the server's certificate against the host name. */
    tls?: { servername?: string };
  };
}

const MASK = '***';

/** Parses a Redis URL; a UsageError (with the password masked) when it is not one. */
export function parseRedisUrl(text: string, flag = '--redis'): RedisTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(flag, maskUrlText(text), 'a URL such as redis://host:6379 or rediss://:password@host:6380/0');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw invalid(flag, maskUrlText(text), 'a redis:// or rediss:// URL');
  const display = displayUrl(url);
  if (!url.hostname) throw invalid(flag, display, 'a URL with a host');
  const port = url.port ? Number(url.port) : DEFAULT_REDIS_PORT;
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) throw invalid(flag, display, 'a URL whose path is a database number (/0)');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const isIp = /^[\d.]+$/.test(host) || host.includes(':');
  return {
    display,
    options: {
      host,
      port,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(dbText ? { db: Number(dbText) } : {}),
      ...(url.protocol === 'rediss:' ? { tls: isIp ? {} : { servername: host } } : {}),
    },
  };
}

function invalid(flag: string, shown: string, what: string): UsageError {
  return new UsageError(`Expected \`${flag}\` to be ${what}, got ${JSON.stringify(shown)}`);
}

function displayUrl(url: URL): string {
  if (!url.password) return url.href;
  const copy = new URL(url.href);
  copy.password = MASK;
  return copy.href.replace(encodeURIComponent(MASK), MASK);
}

/** Text that is not a Redis URL, shown without whatever stands before an `@` (credentials, maybe). */
function maskUrlText(text: string): string {
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const scheme = /^[a-z][a-z0-9+.-]*:(\/\/)?/i.exec(text)?.[0] ?? '';
  return `${scheme}${MASK}${text.slice(at)}`;
}

/** `text` with the target's password (as given, and URL-encoded) replaced by `***`. */
export function redact(text: string, target: RedisTarget): string {
  const password = target.options.password;
  if (!password) return text;
  let out = text;
  for (const form of new Set([password, encodeURIComponent(password)])) out = out.split(form).join(MASK);
  return out;
}
