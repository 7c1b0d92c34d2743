// Small, strict readers for command-line option values. Each failure is a UsageError of the
// form "Expected `--x` to be …, got …" (exit status 2).
import { expected } from '../errors.js';
import type { ParsedArgs } from './command.js';

type Values = ParsedArgs['values'];

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return String(v[v.length - 1]);
  return String(v);
}

export function requireStr(values: Values, name: string): string {
  const v = str(values, name);
  if (v === undefined || v === '') throw expected(`--${name}`, 'given', v);
  return v;
}

export function int(values: Values, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = str(values, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw expected(`--${name}`, max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`, v);
  }
  return n;
}

export function num(values: Values, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  const v = str(values, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    const range = Number.isFinite(max) ? `a number from ${min} to ${max}` : Number.isFinite(min) ? `a number ≥ ${min}` : 'a number';
    throw expected(`--${name}`, range, v);
  }
  return n;
}

export function choice<T extends string>(values: Values, name: string, options: readonly T[], fallback: T): T {
  const v = str(values, name);
  if (v === undefined) return fallback;
  if (!options.includes(v as T)) throw expected(`--${name}`, `one of ${options.map((o) => `\`${o}\``).join(', ')}`, v);
  return v as T;
}

export function bool(values: Values, name: string): boolean {
  return values[name] === true;
}
