// Listing a large annotation file: every missing and empty entry is counted and named, the rest
// listed. Most entries point at files that do not exist; 1,500 do, so both the lookup of
// existing files and the size checks run on many entries. How long listing takes (300,000
// entries in a second or two) is measured by scripts/bench-listing.js, not here.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDataset } from '../src/data/index.js';

const N = 60_000;
const CLASSES = 300;
const PRESENT = 1_500; // entries i < PRESENT exist; every 1000th of them is empty
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-scale-'));
  const csv = ['label,youtube_id,time_start,time_end,split'];
  const list: string[] = [];
  for (let i = 0; i < N; i++) {
    const label = `class ${i % CLASSES}`;
    csv.push(`"${label}",vid${i},${i % 500},${(i % 500) + 10},${i % 7 === 3 ? 'validate' : 'train'}`);
    list.push(`train/${label}/vid${i}_${String(i % 500).padStart(6, '0')}_${String((i % 500) + 10).padStart(6, '0')}.mp4 c${i % CLASSES}`);
  }
  await fs.writeFile(path.join(root, 'kinetics.csv'), csv.join('\n'));
  await fs.writeFile(path.join(root, 'list.txt'), list.join('\n'));
  for (let c = 0; c < CLASSES; c++) await fs.mkdir(path.join(root, 'train', `class ${c}`), { recursive: true });
  const writes: Promise<void>[] = [];
  for (let i = 0; i < PRESENT; i++) {
    const name = `vid${i}_${String(i % 500).padStart(6, '0')}_${String((i % 500) + 10).padStart(6, '0')}.mp4`;
    writes.push(fs.writeFile(path.join(root, 'train', `class ${i % CLASSES}`, name), i % 1000 === 7 ? '' : 'x'));
  }
  await Promise.all(writes);
}, 120_000);
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

it('lists a large Kinetics CSV, counting every missing and empty clip', async () => {
  const d = await openDataset(path.join(root, 'kinetics.csv'), { split: 'train' });
  // train rows: i % 7 ≠ 3; present train files: those with i < PRESENT; every 1000th + 7 is empty
  const trainRows = Array.from({ length: N }, (_, i) => i).filter((i) => i % 7 !== 3).length;
  const presentTrain = Array.from({ length: PRESENT }, (_, i) => i).filter((i) => i % 7 !== 3);
  const empty = presentTrain.filter((i) => i % 1000 === 7).length;
  expect(d.classes).toHaveLength(CLASSES);
  expect(d.items).toHaveLength(presentTrain.length - empty);
  expect(d.problems).toHaveLength(trainRows - presentTrain.length + empty);
  expect(d.problems.filter((p) => p.reason === 'empty file')).toHaveLength(empty);
}, 60_000);

it('lists a large list file, counting every missing and empty file', async () => {
  const d = await openDataset(path.join(root, 'list.txt'), { split: 'train' });
  expect(d.classes).toHaveLength(CLASSES);
  const empty = Array.from({ length: PRESENT }, (_, i) => i).filter((i) => i % 1000 === 7).length;
  expect(d.items).toHaveLength(PRESENT - empty);
  expect(d.problems).toHaveLength(N - PRESENT + empty);
  expect(d.items[0]!.className).toBe('c0');
  expect(d.items[0]!.path).toBe(path.join(root, 'train', 'class 0', 'vid0_000000_000010.mp4'));
}, 60_000);
