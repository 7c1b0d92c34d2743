#!/usr/bin/env node
// Listing a Kinetics-sized annotation file: `openDataset` on a 300,000-row Kinetics CSV and on
// a 300,000-line list file (most entries missing, 1,500 present, some of them empty), against
// reading the same file and splitting its lines, side by side in one run. Listing checks every
// entry (a missing file is reported, never fatal), so it costs more than reading; the ratio says
// how much.
//
//   node scripts/bench-listing.js [--entries 300000] [--runs 3]
// Needs `npm run build` (it imports dist/).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDataset } from '../dist/data/index.js';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '300000' }, runs: { type: 'string', default: '3' } } });
const N = Number(values.entries);
const CLASSES = 300;
const PRESENT = 1_500;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stem = (i) => `vid${i}_${String(i % 500).padStart(6, '0')}_${String((i % 500) + 10).padStart(6, '0')}`;

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bench-listing-'));
const csv = ['label,youtube_id,time_start,time_end,split'];
const list = [];
for (let i = 0; i < N; i++) {
  csv.push(`"class ${i % CLASSES}",vid${i},${i % 500},${(i % 500) + 10},train`);
  list.push(`train/class ${i % CLASSES}/${stem(i)}.mp4 c${i % CLASSES}`);
}
await fs.writeFile(path.join(root, 'kinetics.csv'), csv.join('\n'));
await fs.writeFile(path.join(root, 'list.txt'), list.join('\n'));
for (let c = 0; c < CLASSES; c++) await fs.mkdir(path.join(root, 'train', `class ${c}`), { recursive: true });
for (let i = 0; i < PRESENT; i++) await fs.writeFile(path.join(root, 'train', `class ${i % CLASSES}`, `${stem(i)}.mp4`), i % 1000 === 7 ? '' : 'x');

console.log(`listing · ${N.toLocaleString('en-US')} entries, ${PRESENT} present · median of ${values.runs} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}`);
console.log('source        read + split s   openDataset s   ratio   items   problems');
for (const name of ['kinetics.csv', 'list.txt']) {
  const file = path.join(root, name);
  const read = [];
  const listing = [];
  let d;
  for (let r = 0; r < Number(values.runs); r++) {
    let t = performance.now();
    (await fs.readFile(file, 'utf8')).split('\n');
    read.push((performance.now() - t) / 1000);
    t = performance.now();
    d = await openDataset(file, { split: 'train' });
    listing.push((performance.now() - t) / 1000);
  }
  const a = median(read);
  const b = median(listing);
  console.log(`${name.padEnd(12)}  ${a.toFixed(3).padStart(14)}  ${b.toFixed(2).padStart(14)}  ${(b / a).toFixed(0).padStart(5)}×  ${String(d.items.length).padStart(6)}  ${String(d.problems.length).padStart(9)}`);
}
await fs.rm(root, { recursive: true, force: true });
