// `losa cache list` and `losa cache clear`: what the feature cache folder holds, and making room
// in it. Clearing removes the least recently used entries first (all of them by default) and
// only files that are cache entries, so it is safe while runs use the folder: a run that loses
// an entry computes it again.
import { UsageError } from '../errors.js';
import { DEFAULT_CACHE_MAX, evictCacheFolder, readCacheSettings, scanCacheFolder } from '../features/cache-folder.js';
import { formatBytes } from '../fsutil.js';
import { defaultCacheDir } from '../train/options.js';
import { JSON_OPTION } from './common.js';
import { defineCommand } from './command.js';
import { bytes, file, type OptionTable } from './options.js';

const CACHE_OPTION = {
  cache: file({ value: 'DIR', help: 'the feature cache folder', defaultText: '$LOSA_CACHE_DIR, else $XDG_CACHE_HOME/losa/features, else ~/.cache/losa/features' }),
} satisfies OptionTable;

const count = (n: number): string => n.toLocaleString('en-US');
const when = (ms: number | null): string => (ms === null ? '–' : new Date(ms).toISOString().replace('T', ' ').slice(0, 16));

function noPositionals(positionals: string[], name: string): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} (see \`losa cache ${name} --help\`)`);
}

export const list = defineCommand({
  name: 'cache list',
  usage: 'losa cache list [--cache DIR] [--json]',
  description: `What the feature cache folder holds: entries, their size against the folder's cap, when they
were last used, and unfinished writes.`,
  options: { ...CACHE_OPTION, ...JSON_OPTION },
  async run({ options: o, positionals }, io) {
    noPositionals(positionals, 'list');
    const dir = o.cache ?? defaultCacheDir();
    const [contents, settings] = await Promise.all([scanCacheFolder(dir), readCacheSettings(dir)]);
    // A loop, not Math.min(...): spreading a quarter of a million arguments overflows the stack.
    let firstUse: number | null = null;
    let lastUse: number | null = null;
    for (const { usedMs } of contents.entries) {
      firstUse = Math.min(firstUse ?? usedMs, usedMs);
      lastUse = Math.max(lastUse ?? usedMs, usedMs);
    }
    const unfinishedBytes = contents.temps.reduce((n, t) => n + t.bytes, 0);
    const report = {
      dir, entries: contents.entries.length, bytes: contents.bytes - unfinishedBytes,
      maxBytes: settings.maxBytes ?? DEFAULT_CACHE_MAX, capFrom: settings.maxBytes !== undefined ? 'folder' : 'default',
      firstUse, lastUse, unfinished: contents.temps.length, unfinishedBytes,
    };
    if (o.json) {
      io.stdout.write(JSON.stringify(report) + '\n');
      return 0;
    }
    const capFrom = report.capFrom === 'folder' ? "the folder's" : 'the default; `losa train --cache-max` sets one';
    const lines = [
      `feature cache ${dir}`,
      `  ${count(report.entries)} entries, ${formatBytes(report.bytes)}; cap ${formatBytes(report.maxBytes)} (${capFrom})`,
      `  last used from ${when(report.firstUse)} to ${when(report.lastUse)} (UTC)`,
    ];
    if (report.unfinished > 0) lines.push(`  ${count(report.unfinished)} unfinished writes (${formatBytes(report.unfinishedBytes)}; those of killed writers go after an hour)`);
    io.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
});

export const clear = defineCommand({
  name: 'cache clear',
  usage: 'losa cache clear [--cache DIR] [--keep SIZE] [--json]',
  description: `Removes feature cache entries, least recently used first: all of them, or down to --keep SIZE.
Only cache entries are removed (and the temporary files of writers killed over an hour ago); runs
using the folder meanwhile compute what they lose again.`,
  options: {
    ...CACHE_OPTION,
    keep: bytes({ value: 'SIZE', help: 'keep the most recently used entries up to this size', defaultText: 'nothing' }),
    ...JSON_OPTION,
  },
  async run({ options: o, positionals }, io) {
    noPositionals(positionals, 'clear');
    const dir = o.cache ?? defaultCacheDir();
    const result = await evictCacheFolder(dir, o.keep ?? 0, Date.now());
    if (o.json) io.stdout.write(JSON.stringify({ dir, ...result }) + '\n');
    else {
      io.stdout.write(`removed ${count(result.removed)} entries (${formatBytes(result.freedBytes)}) from ${dir}; ` +
        `${count(result.remaining)} entries (${formatBytes(result.remainingBytes)}) remain\n`);
    }
    return 0;
  },
});
