// Preload for benchmarks (node --import ./scripts/peak-rss.js …): at exit, append this
// process's peak resident set size (VmHWM, its threads included) to $PEAK_RSS_FILE. The
// backbone's child process inherits the flag and appends its own line: a command's peak is the
// sum of the lines (an upper bound: the two peaks need not coincide).
import { appendFileSync, readFileSync } from 'node:fs';

process.on('exit', () => {
  const file = process.env.PEAK_RSS_FILE;
  if (!file) return;
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  if (match) appendFileSync(file, `${Number(match[1]) * 1024}\n`);
});
