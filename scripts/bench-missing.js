#!/usr/bin/env node
// What a Kinetics-sized annotation file with missing clips adds to the start of `losa train`:
// a 300,000-row CSV (400 classes; 270,000 training clips on disk, 30,000 never downloaded, 5,000
// of the rows in the validation split) is listed as training lists it (the training split, then
// the validation split against the training classes), and what could not be used is reported
// as training reports it: the whole list into train.log in one write, one summary event, which
// the plain renderer and the dashboard's reducer receive. Reading the CSV and splitting its
// lines is timed beside it, as the floor any listing pays. The bar: under 2 s in all.
//
//   node scripts/bench-missing.js [--rows 300000] [--missing 30000] [--runs 3]
// Needs `npm run build` (it imports dist/). Writes --rows − --missing small files under the
// system's temporary folder (removed at the end).
import { promises as fs, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDataset } from '../dist/data/index.js';
import { reportListing } from '../dist/train/listing.js';
import { RunLog } from '../dist/train/log.js';
import { PlainLines } from '../dist/ui/plain.js';
import { initialDashboardState, reduceDashboard } from '../dist/ui/state.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '300000' }, missing: { type: 'string', default: '30000' }, runs: { type: 'string', default: '3' } } });
const ROWS = Number(values.rows);
const MISSING = Number(values.missing);
const CLASSES = 400;
const VAL_ROWS = 5_000; // among the missing ones: the validation clips were never downloaded
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bench-missing-'));
const csv = ['label,youtube_id,time_start,time_end,split'];
const created = performance.now();
for (let c = 0; c < CLASSES; c++) mkdirSync(path.join(root, 'train', `class ${c}`), { recursive: true });
mkdirSync(path.join(root, 'val'), { recursive: true });
for (let i = 0; i < ROWS; i++) {
  const label = `class ${i % CLASSES}`;
  const gone = i % Math.round(ROWS / MISSING) === 0 && i / Math.round(ROWS / MISSING) < MISSING;
  const split = gone && i / Math.round(ROWS / MISSING) < VAL_ROWS ? 'validate' : 'train';
  const id = `vid${String(i).padStart(7, '0')}`;
  csv.push(`"${label}",${id},${i % 500},${(i % 500) + 10},${split}`);
  if (!gone) writeFileSync(path.join(root, 'train', label, `${id}_${String(i % 500).padStart(6, '0')}_${String((i % 500) + 10).padStart(6, '0')}.mp4`), 'x');
}
const file = path.join(root, 'kinetics.csv');
await fs.writeFile(file, csv.join('\n') + '\n');
const setupSeconds = (performance.now() - created) / 1000;

const times = { read: [], listTrain: [], listVal: [], report: [] };
let counts;
for (let r = 0; r < Number(values.runs); r++) {
  let t = performance.now();
  (await fs.readFile(file, 'utf8')).split('\n');
  times.read.push(performance.now() - t);
  t = performance.now();
  const trainSet = await openDataset(file, { split: 'train' });
  times.listTrain.push(performance.now() - t);
  t = performance.now();
  const valSet = await openDataset(file, { split: 'val', classes: trainSet.classes });
  times.listVal.push(performance.now() - t);
  // Reporting as a run does, into a fresh train.log, with both renderers' reducers receiving the events.
  const logFile = path.join(root, `train-${r}.log`);
  const lines = [];
  const plain = new PlainLines((l) => lines.push(l));
  let state = initialDashboardState(0);
  t = performance.now();
  const log = new RunLog(logFile, (m) => lines.push(m));
  await reportListing([{ role: 'train', set: trainSet }, { role: 'val', set: valSet }], log, (e) => {
    plain.emit(e);
    state = reduceDashboard(state, e, 0);
  });
  times.report.push(performance.now() - t);
  counts = {
    train: trainSet.items.length, val: valSet.items.length, problems: trainSet.problems.length + valSet.problems.length,
    screenLines: lines.length, logLines: (await fs.readFile(logFile, 'utf8')).split('\n').length - 1,
  };
}
const ms = (xs) => median(xs);
const total = ms(times.listTrain) + ms(times.listVal) + ms(times.report);
console.log(`missing clips at the start of a run · ${ROWS.toLocaleString('en-US')} CSV rows, ${MISSING.toLocaleString('en-US')} missing, ${CLASSES} classes · median of ${values.runs} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'} · node ${process.version}`);
console.log(`(writing the ${(ROWS - MISSING).toLocaleString('en-US')} files took ${setupSeconds.toFixed(1)} s, not counted)`);
console.log('step                                   ms     × reading the CSV');
const row = (name, value) => console.log(`${name.padEnd(34)} ${value.toFixed(0).padStart(6)}   ${(value / ms(times.read)).toFixed(1).padStart(6)}×`);
row('read + split the CSV (the floor)', ms(times.read));
row('list the training split', ms(times.listTrain));
row('list the validation split', ms(times.listVal));
row('report (train.log + one line)', ms(times.report));
row('listing + reporting, in all', total);
console.log(`train ${counts.train.toLocaleString('en-US')} clips, val ${counts.val} clips, ${counts.problems.toLocaleString('en-US')} problems → ${counts.screenLines} line on screen, ${counts.logLines.toLocaleString('en-US')} lines in train.log`);
console.log(`bar: under 2 s in all → ${total < 2000 ? 'met' : 'NOT met'} (${(total / 1000).toFixed(2)} s)`);
await fs.rm(root, { recursive: true, force: true });
