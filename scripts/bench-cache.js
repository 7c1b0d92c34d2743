#!/usr/bin/env node
// The feature cache: the backbone is frozen, so after the first epoch (decode + backbone +
// side network) an epoch served from the cache costs only the side network. One run of
// `losa train` with default settings and one cached view per video: epoch 1 fills the cache,
// epochs 2 and 3 read it; the times come from the run's metrics.jsonl.
//
//   node scripts/bench-cache.js [--data video/demo]
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { demoData, ensureSynthData, losa } from './losa-cli.js';

const { values } = parseArgs({ options: { data: { type: 'string', default: demoData } } });
ensureSynthData(values.data);
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-bench-cache-'));
const run = path.join(dir, 'run');
losa('train', '--data', values.data, '--out', run, '--epochs', '3', '--cache', path.join(dir, 'cache'), '--cache-views', '1', '--no-tui');
const train = (await fs.readFile(path.join(run, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.split === 'train');
console.log(`feature cache · ${values.data} · vit-ti16 at 224, grid:2 (defaults), with validation · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}`);
console.log('epoch  from cache  seconds  speedup vs epoch 1');
for (const m of train) console.log(`${String(m.epoch).padStart(5)}  ${String(m.fromCache).padStart(10)}  ${m.seconds.toFixed(1).padStart(7)}  ${(train[0].seconds / m.seconds).toFixed(1).padStart(17)}×`);
await fs.rm(dir, { recursive: true, force: true });
