// Stopping and resuming without losing or inventing anything: a stop during validation records
// nothing partial, leaves best.safetensors alone, and the resumed run validates that epoch
// again; a resume that cannot read metrics.jsonl or run.json is one line naming the file, with
// the run directory left as it is; a failure is printed once; train.log that cannot be written
// is one warning, never an unhandled rejection.
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { maxWeightDiff, metricsEpochs, sideWeights, tinySetup } from './train-helpers.js';
import { SafetensorsFile } from '../src/safetensors.js';
import { TRAIN_DEFAULTS, prepareRun, train, type TrainOptions } from '../src/train/index.js';
import type { LosaEvent } from '../src/train/events.js';

let dir: string;
let data: string;
let backbone: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-stop-resume-'));
  ({ data, backbone } = await tinySetup(dir, 41, 2));
  await train(options('finished'), () => {});
}, 120_000);
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function options(out: string, over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...TRAIN_DEFAULTS, data, out: path.join(dir, out), backbone, numFrames: 4, epochs: 2, batchSize: 2, lr: 1e-2,
    cache: path.join(dir, 'cache'), cacheViews: 1, ...over,
  };
}

/** Name → bytes of every file of a run directory. */
async function snapshot(run: string): Promise<Map<string, Buffer>> {
  const files = await fs.readdir(run);
  return new Map(await Promise.all(files.map(async (f) => [f, await fs.readFile(path.join(run, f)).catch(() => Buffer.from('(folder)'))] as const)));
}

describe('a stop during validation', () => {
  it('records nothing partial, leaves best.safetensors alone, and the resumed run validates that epoch again', async () => {
    const controller = new AbortController();
    let bestBefore: Buffer | undefined;
    const split = path.join(dir, 'split');
    const stopped = await train(options('split'), (e) => {
      if (e.type === 'epoch-start' && e.epoch === 2) bestBefore = readFileSync(path.join(split, 'best.safetensors'));
      if (e.type === 'validate' && e.epoch === 2 && e.done === 1) controller.abort();
    }, controller.signal);
    expect(stopped.status).toBe('stopped');
    expect(await metricsEpochs(split)).toEqual(['1/train', '1/val']);
    expect(Buffer.compare(await fs.readFile(path.join(split, 'best.safetensors')), bestBefore!)).toBe(0);
    const last = await SafetensorsFile.open(path.join(split, 'last.safetensors'));
    expect(last.metadata).toMatchObject({ epoch: '1', stepInEpoch: '3', position: '6', step: '6' });
    expect(JSON.parse(last.metadata.trained!)).toMatchObject({ epoch: 2, split: 'train', step: 6 });
    await last.close();

    const events: LosaEvent[] = [];
    const resumed = await train(options('split', { resume: true }), (e) => events.push(e));
    expect(resumed.status).toBe('done');
    expect(events.filter((e) => e.type === 'step')).toEqual([]); // epoch 2's training is not done again
    expect(events.filter((e) => e.type === 'validate').map((e) => (e as { epoch: number }).epoch)).toEqual([2, 2, 2, 2]);
    const whole = path.join(dir, 'finished');
    expect(await metricsEpochs(split)).toEqual(['1/train', '1/val', '2/train', '2/val']);
    expect(maxWeightDiff(await sideWeights(path.join(split, 'last.safetensors')), await sideWeights(path.join(whole, 'last.safetensors')))).toBeLessThan(1e-6);
    expect(maxWeightDiff(await sideWeights(path.join(split, 'best.safetensors')), await sideWeights(path.join(whole, 'best.safetensors')))).toBeLessThan(1e-6);
    const records = async (run: string) => (await fs.readFile(path.join(run, 'metrics.jsonl'), 'utf8')).trim().split('\n')
      .map((l) => JSON.parse(l)).map(({ epoch, split: s, loss, top1, step }) => ({ epoch, s, loss, top1, step }));
    expect(await records(split)).toEqual(await records(whole));
  });
});

describe('a resume that cannot read what it continues from', () => {
  const resume = (run: string) => runCli(['train', '--data', data, '--out', run, '--backbone', backbone, '--num-frames', '4',
    '--epochs', '3', '--batch-size', '2', '--cache', path.join(dir, 'cache'), '--cache-views', '1', '--resume', '--no-tui'], dir);

  async function copyOfFinished(name: string): Promise<string> {
    const run = path.join(dir, name);
    await fs.cp(path.join(dir, 'finished'), run, { recursive: true });
    return run;
  }

  it('metrics.jsonl unreadable: one line naming it, nothing overwritten', async () => {
    const run = await copyOfFinished('metrics-unreadable');
    await fs.rm(path.join(run, 'metrics.jsonl'));
    await fs.mkdir(path.join(run, 'metrics.jsonl')); // reading it fails with EISDIR
    const before = await snapshot(run);
    const r = await resume(run);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`losa: error: ${run}/metrics.jsonl: cannot read (is a folder, EISDIR); the run directory is left as it is\n`);
    expect(await snapshot(run)).toEqual(before);
  });

  it('metrics.jsonl with a damaged line: one line naming it and the line, nothing overwritten', async () => {
    const run = await copyOfFinished('metrics-damaged');
    const lines = (await fs.readFile(path.join(run, 'metrics.jsonl'), 'utf8')).split('\n');
    lines[1] = '{"epoch": 1, "split": "val", "loss": 0.69, "to';
    await fs.writeFile(path.join(run, 'metrics.jsonl'), lines.join('\n'));
    const before = await snapshot(run);
    const r = await resume(run);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`losa: error: ${run}/metrics.jsonl: line 2 is not a metrics record; the run directory is left as it is\n`);
    expect(await snapshot(run)).toEqual(before);
  });

  it('run.json unreadable: one line naming it, nothing overwritten', async () => {
    const run = await copyOfFinished('manifest-unreadable');
    await fs.rm(path.join(run, 'run.json'));
    await fs.mkdir(path.join(run, 'run.json'));
    const before = await snapshot(run);
    const r = await resume(run);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`losa: error: ${run}/run.json: cannot read (is a folder, EISDIR)\n`);
    expect(await snapshot(run)).toEqual(before);
  });

  it('a failure after the run started is printed once', async () => {
    const run = await copyOfFinished('other-backbone');
    const r = await runCli(['train', '--data', data, '--out', run, '--backbone', backbone, '--backbone-seed', '5', '--num-frames', '4',
      '--epochs', '3', '--batch-size', '2', '--no-cache', '--resume', '--no-tui'], dir);
    expect(r.status).toBe(1);
    const message = 'differs from the one this run was trained with';
    expect(r.stderr).toBe(`losa: error: ${run}: the backbone (config, weights, pooling or layers) ${message}\n`);
    expect(r.stdout).not.toContain(message);
  });
});

describe('train.log', () => {
  it('that cannot be written is one warning, and the run goes on (no unhandled rejection)', async () => {
    const events: LosaEvent[] = [];
    const run = await prepareRun(options('log-fails', { epochs: 1 }), (e) => events.push(e));
    try {
      await fs.mkdir(path.join(run.runDir, 'train.log')); // appending to it fails with EISDIR
      run.skip({ path: '/videos/a.mp4', label: 0, className: 'moving-left' }, 'cannot decode');
      run.skip({ path: '/videos/b.mp4', label: 1, className: 'moving-right' }, 'cannot decode');
      await run.log.flush();
    } finally {
      await run.dispose();
    }
    const warnings = events.filter((e) => e.type === 'log' && e.level === 'warn').map((e) => (e as { message: string }).message);
    expect(warnings).toEqual([`${run.runDir}/train.log: cannot write (is a folder, EISDIR); skipped files are no longer logged, the run goes on`]);
    expect(events.filter((e) => e.type === 'skip')).toHaveLength(2);
  });
});
