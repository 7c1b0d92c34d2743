// Preload for benchmarks (node --import ./scripts/peak-rss.js …): at exit, append this
// process's peak resident set size (VmHWM, worker threads included) to $PEAK_RSS_FILE.
import { appendFileSync, readFileSync } from 'node:fs';

process.on('exit', () => {
  const file = process.env.PEAK_RSS_FILE;
  if (!file) return;
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  if (match) appendFileSync(file, `${Number(match[1]) * 1024}\n`);
});
