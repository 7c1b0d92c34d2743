// `losa info`: the table of presets, one backbone in detail, --json, and bad arguments.
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';

const run = (argv: string[]) => runCli(argv);

describe('losa info', () => {
  it('lists every preset without --backbone', async () => {
    const r = await run(['info', '--memory', '8GiB']);
    expect(r.status).toBe(0);
    for (const name of ['vit-ti16', 'vit-s16', 'vit-b16', 'vit-l16', 'vit-h14', 'vit-g14', 'vit-bigg14', 'vit-e14']) {
      expect(r.stdout).toContain(name);
    }
    expect(r.stdout).toMatch(/vit-b16\s+85\.8M\s+35\.1\s+327 MiB\s+164 MiB/);
    expect(r.stdout).toMatch(/vit-e14\s+3\.81B.*does not fit/);
  });

  it('prints one backbone in detail', async () => {
    const r = await run(['info', '--backbone', 'vit-b16', '--frames', '16', '--memory', '2GiB']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('85,798,656 (85.8M), backbone only');
    expect(r.stdout).toMatch(/GFLOPs\/frame\s+35\.13/);
    expect(r.stdout).toMatch(/clip of 16\s+562\.0 GFLOPs/);
    expect(r.stdout).toContain('[16, 12, 5, 768] float32 (grid:2, 12 layers)');
  });

  it('prints one JSON object with --json', async () => {
    const r = await run(['info', '--backbone', 'vit-b16', '--json', '--memory', '1GiB', '--frames', '4']);
    expect(r.status).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.params).toBe(85_798_656);
    expect(o.gflopsPerFrame).toBeCloseTo(35.13, 2);
    expect(o.weightBytesFp32).toBe(85_798_656 * 4);
    expect(o.weightBytesFp16).toBe(85_798_656 * 2);
    expect(o.chunk).toBeGreaterThan(0);
    expect(o.peakBytes).toBeLessThanOrEqual(2 ** 30);
    const all = JSON.parse((await run(['info', '--json'])).stdout);
    expect(all.backbones).toHaveLength(8);
    expect(all.backbones[7].params).toBeGreaterThan(3.8e9);
  });

  it('gives one-line errors with the right status', async () => {
    const bad = await run(['info', '--backbone', 'missing.json']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^losa: error: .*missing\.json: no such backbone config file, and not a preset/);
    const mem = await run(['info', '--memory', 'lots']);
    expect(mem.status).toBe(2);
    expect(mem.stderr).toContain('Expected `--memory` to be a size such as 8GiB or 512MB, got "lots"');
    const frames = await run(['info', '--frames', '0']);
    expect(frames.status).toBe(2);
  });
});
