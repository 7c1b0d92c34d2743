// Option tables. Each command declares its options once, as a table keyed by the camelCase name
// of the value it wants (`numFrames` is the flag `--num-frames`); the table gives node:util's
// parseArgs its config, reads every value into its type (a UsageError "Expected `--x` to be …,
// got …" otherwise), and writes the command's --help. Old spellings stay as hidden aliases that
// print a one-line deprecation note. Options several commands share live in common.ts, so that
// one flag means one thing everywhere.
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, errorMessage, expected } from '../errors.js';
import { parseBytes } from '../fsutil.js';

/** What a value is read with: the flag as typed (for messages) and where relative paths start. */
export interface ReadContext {
  flag: string;
  cwd: string;
}

export interface OptionDef<T> {
  kind: 'string' | 'boolean';
  /** The value's placeholder in the help ("T", "DIR"); absent for a boolean flag. */
  value?: string;
  help: string;
  /** Heading of the help section the option is listed under (default "Options"). */
  group?: string;
  /** Shown in the help as "(default …)". */
  defaultText?: string;
  short?: string;
  /** Old spellings, still accepted, not listed; each use prints a one-line note. */
  deprecated?: readonly string[];
  required?: boolean;
  /** The typed value: `raw` is the text given (a boolean for a flag), or undefined when absent. */
  read(raw: string | boolean | undefined, ctx: ReadContext): T;
}

export type OptionTable = Record<string, OptionDef<unknown>>;
export type OptionValues<T extends OptionTable> = { [K in keyof T]: T[K] extends OptionDef<infer V> ? V : never };

interface Common {
  help: string;
  value?: string;
  group?: string;
  short?: string;
  deprecated?: readonly string[];
  defaultText?: string;
}
/** Without a default or `required`, an absent option reads as undefined. */
type Read<T, O> = O extends { default: unknown } | { required: true } ? T : T | undefined;

/** An option with a value read by `parse` from its text; `default` when absent. */
function valued<T, O extends Common & { default?: T; required?: boolean }>(o: O, parse: (text: string, ctx: ReadContext) => T): OptionDef<Read<T, O>> {
  return {
    kind: 'string',
    help: o.help,
    value: o.value,
    group: o.group,
    short: o.short,
    deprecated: o.deprecated,
    required: o.required,
    defaultText: o.defaultText ?? (o.default === undefined ? undefined : showDefault(o.default)),
    read(raw, ctx) {
      if (raw === undefined || raw === '') {
        if (o.required) throw expected(ctx.flag, 'given', raw);
        return o.default as Read<T, O>;
      }
      return parse(String(raw), ctx);
    },
  };
}

function showDefault(value: unknown): string {
  return Array.isArray(value) ? value.join(',') : String(value);
}

export function text<O extends Common & { default?: string; required?: boolean }>(o: O): OptionDef<Read<string, O>> {
  return valued(o, (t) => t);
}

/** A file or folder, resolved against the command's working folder. */
export function file<O extends Common & { default?: string; required?: boolean }>(o: O): OptionDef<Read<string, O>> {
  return valued(o, (t, ctx) => path.resolve(ctx.cwd, t));
}

export function int<O extends Common & { default?: number; required?: boolean; min?: number; max?: number }>(o: O): OptionDef<Read<number, O>> {
  const min = o.min ?? 0;
  const max = o.max ?? Number.MAX_SAFE_INTEGER;
  return valued(o, (t, ctx) => {
    const n = Number(t);
    if (!/^-?\d+$/.test(t.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw expected(ctx.flag, max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`, t);
    }
    return n;
  });
}

export function num<O extends Common & { default?: number; required?: boolean; min?: number; max?: number }>(o: O): OptionDef<Read<number, O>> {
  const min = o.min ?? -Infinity;
  const max = o.max ?? Infinity;
  return valued(o, (t, ctx) => {
    const n = Number(t);
    if (t.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      const range = Number.isFinite(max) ? `a number from ${min} to ${max}` : Number.isFinite(min) ? `a number ≥ ${min}` : 'a number';
      throw expected(ctx.flag, range, t);
    }
    return n;
  });
}

export function choice<V extends string, O extends Common & { default?: V; required?: boolean }>(o: O & { values: readonly V[] }): OptionDef<Read<V, O>> {
  const def = valued(o, (t, ctx) => {
    if (!o.values.includes(t as V)) throw expected(ctx.flag, `one of ${o.values.map((v) => `\`${v}\``).join(', ')}`, t);
    return t as V;
  });
  return { ...def, value: o.value ?? o.values.join('|') };
}

/** A size such as 8GiB, 512MB or 1000000 (bytes). */
export function bytes<O extends Common & { default?: number; required?: boolean }>(o: O): OptionDef<Read<number, O>> {
  return valued(o, (t, ctx) => {
    const n = parseBytes(t);
    if (!(n > 0)) throw expected(ctx.flag, 'a size such as 8GiB or 512MB', t);
    return n;
  });
}

/** Any other value: `parse` turns the text into it (throwing `expected(...)` when it cannot). */
export function custom<T, O extends Common & { default?: T; required?: boolean }>(o: O, parse: (text: string, ctx: ReadContext) => T): OptionDef<Read<T, O>> {
  return valued(o, parse);
}

/** A boolean flag: true when given. */
export function flag(o: Common): OptionDef<boolean> {
  return { kind: 'boolean', help: o.help, group: o.group, short: o.short, deprecated: o.deprecated, read: (raw) => raw === true };
}

export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export interface ParsedOptions<T extends OptionTable> {
  options: OptionValues<T>;
  positionals: string[];
  /** The options given on the command line (by any spelling), as opposed to defaulted. */
  given: ReadonlySet<keyof T & string>;
}

/**
 * Parses `argv` with the table. Unknown options and bad values are UsageErrors naming the
 * command's --help; `note` receives one line per deprecated spelling used.
 */
export function parseOptions<T extends OptionTable>(
  table: T, argv: string[], ctx: { command: string; cwd: string; note(line: string): void },
): ParsedOptions<T> {
  const config: NonNullable<ParseArgsConfig['options']> = {};
  for (const [key, def] of Object.entries(table)) {
    config[flagName(key)] = { type: def.kind, ...(def.short ? { short: def.short } : {}) };
    for (const old of def.deprecated ?? []) config[old] = { type: def.kind };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: config, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${errorMessage(error)} (see \`losa ${ctx.command} --help\`)`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const options: Record<string, unknown> = {};
  const given = new Set<string>();
  for (const [key, def] of Object.entries(table)) {
    const name = flagName(key);
    let raw = values[name];
    for (const old of def.deprecated ?? []) {
      if (values[old] === undefined) continue;
      ctx.note(`losa: note: --${old} is deprecated; use --${name}`);
      raw ??= values[old];
    }
    if (raw !== undefined) given.add(key);
    options[key] = def.read(raw, { flag: `--${name}`, cwd: ctx.cwd });
  }
  return { options: options as OptionValues<T>, positionals: parsed.positionals, given };
}

/** Help width: lines are wrapped to this many columns. */
const HELP_COLUMNS = 100;
/** The option column is at most this wide; a longer option puts its help on the next line. */
const OPTION_COLUMN = 26;

/** The --help text: usage line, description, the options by group (with defaults), notes. */
export function helpText(usage: string, description: string, table: OptionTable, notes?: string): string {
  const rows = Object.entries(table).map(([key, def]) => {
    const names = `${def.short ? `-${def.short}, ` : ''}--${flagName(key)}${def.value ? ` ${def.value}` : ''}`;
    const help = `${def.help}${def.defaultText !== undefined ? ` (default ${def.defaultText})` : ''}`;
    return { group: def.group ?? 'Options', names, help };
  });
  const width = Math.min(OPTION_COLUMN, Math.max(...rows.map((r) => r.names.length)));
  const out = [`Usage: ${usage}`, '', description.trim(), ''];
  for (const group of [...new Set(rows.map((r) => r.group))]) {
    out.push(`${group}:`);
    for (const r of rows.filter((x) => x.group === group)) {
      const lead = `  ${r.names.padEnd(width)}  `;
      const help = wrap(r.help, HELP_COLUMNS - width - 4);
      if (r.names.length > width) out.push(`  ${r.names}`, ...help.map((l) => `${' '.repeat(width + 4)}${l}`));
      else out.push(lead + help[0], ...help.slice(1).map((l) => `${' '.repeat(width + 4)}${l}`));
    }
  }
  if (notes) out.push('', notes.trim());
  return out.join('\n') + '\n';
}

/** Words of `line` in lines of at most `columns` characters. */
function wrap(line: string, columns: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of line.split(' ')) {
    if (current && current.length + 1 + word.length > columns) {
      lines.push(current);
      current = word;
    } else current = current ? `${current} ${word}` : word;
  }
  return [...lines, current];
}
