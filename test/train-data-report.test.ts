// What the listing cannot use, at Kinetics scale: a CSV whose 30,000 rows name clips that were
// never downloaded (25,000 training, 5,000 validation) beside 8 that were. The run starts and
// finishes; the screen gets one line (how many, why, where the list is), train.log the whole
// list, written with one call. A validation source that yields no videos is an error naming it,
// unless --no-val asks for a run without validation, which its header then says.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from './cli-helpers.js';
import { tinySetup } from './train-helpers.js';

let dir: string;
let backbone: string;
let csv: string;
let emptyVal: string;
const missing: string[] = [];
const stem = (id: string): string => `${id}_000000_000010`;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-missing-'));
  const setup = await tinySetup(dir, 31, 1);
  backbone = setup.backbone;
  // The downloaded clips, under Kinetics names, in kinetics/<split>/<label>/.
  const rows = ['label,youtube_id,time_start,time_end,split'];
  const valRows = [...rows];
  for (const split of ['train', 'val']) {
    for (const label of ['moving-left', 'moving-right']) {
      const from = path.join(setup.data, split, label);
      const to = path.join(dir, 'kinetics', split, label);
      await fs.mkdir(to, { recursive: true });
      for (const [i, name] of (await fs.readdir(from)).entries()) {
        const id = `${split}-${label}-${i}`;
        await fs.symlink(path.join(from, name), path.join(to, `${stem(id)}.mp4`));
        rows.push(`${label},${id},0,10,${split === 'val' ? 'validate' : 'train'}`);
      }
    }
  }
  for (let i = 0; i < 30_000; i++) {
    const split = i < 25_000 ? 'train' : 'val';
    const label = i % 2 ? 'moving-right' : 'moving-left';
    const id = `gone${String(i).padStart(6, '0')}`;
    rows.push(`${label},${id},0,10,${split === 'val' ? 'validate' : 'train'}`);
    if (split === 'val') valRows.push(`${label},${id},0,10,validate`);
    missing.push(path.join(dir, 'kinetics', split, label, `${stem(id)}.mp4`));
  }
  csv = path.join(dir, 'kinetics', 'k400.csv');
  await fs.writeFile(csv, rows.join('\n') + '\n');
  emptyVal = path.join(dir, 'kinetics', 'val-gone.csv');
  await fs.writeFile(emptyVal, valRows.join('\n') + '\n');
}, 120_000);
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

const train = (out: string, ...more: string[]) => runCli([
  'train', '--data', csv, '--out', out, '--backbone', backbone, '--num-frames', '4', '--epochs', '1', '--batch-size', '2', '--no-cache', '--no-tui', ...more,
], dir);

describe('30,000 missing clips', () => {
  it('the run starts and finishes with one summary line; train.log has the full list, written in one call', async () => {
    const appendFile = vi.spyOn(fs, 'appendFile');
    const r = await train('run');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const log = path.join(dir, 'run', 'train.log');
    const warnings = r.stdout.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings).toEqual([
      `warning: 30,000 listed entries cannot be used and are left out: train 25,000 (25,000 missing); val 5,000 (5,000 missing); the list is in ${log}`,
    ]);
    expect(r.stdout).not.toContain('gone0');
    expect(r.stdout).toMatch(/^data .* · 6 train \/ 2 val clips · 30000 missing$/m);
    expect(r.stdout).toMatch(/^done in /m);
    const lines = (await fs.readFile(log, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(30_000);
    const listed = lines.map((l) => /^\S+ listing (train|val) (.*): missing$/.exec(l)!.slice(1));
    expect(listed.filter(([role]) => role === 'train')).toHaveLength(25_000);
    expect(listed.map(([, file]) => file).sort()).toEqual([...missing].sort());
    expect(appendFile.mock.calls.filter(([file]) => file === log)).toHaveLength(1);
  });

  it('a validation source that yields no videos is an error naming it; its missing rows are listed like the others', async () => {
    const r = await train('no-val-clips', '--val-data', emptyVal);
    expect(r.status).toBe(1);
    const log = path.join(dir, 'no-val-clips', 'train.log');
    expect(r.stderr).toBe(
      `losa: error: ${emptyVal}: no validation videos in split "val" (5000 listed, none usable; see ${log}); ` +
      'give the validation videos with --val-data SRC, or pass --no-val to train without validation\n',
    );
    const lines = (await fs.readFile(log, 'utf8')).trim().split('\n');
    expect(lines.filter((l) => / listing val .*: missing$/.test(l))).toHaveLength(5_000);
  });

  it('a validation split that is not there at all is an error too', async () => {
    const r = await runCli(['train', '--data', path.join(dir, 'data', 'train'), '--train-split', 'moving-left', '--out', 'x', '--backbone', backbone, '--no-tui'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^losa: error: .*: no "val" split here .*; give the validation videos with --val-data SRC, or pass --no-val to train without validation\n$/);
  });

  it('--no-val trains without validation and says so in its header', async () => {
    const r = await train('without', '--no-val');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^data .* · 6 train clips · no validation \(--no-val\) · 25000 missing$/m);
    expect(r.stdout).toContain('25,000 listed entries cannot be used and are left out: train 25,000 (25,000 missing);');
    const metrics = (await fs.readFile(path.join(dir, 'without', 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics.map((m) => m.split)).toEqual(['train']);
  });
});
