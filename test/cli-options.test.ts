// Option tables: one table per command gives the parser, the typed values and the --help text;
// old spellings are hidden aliases with a one-line note; a flag means one thing everywhere.
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { COMMANDS } from '../src/commands/index.js';
import { choice, file, flag, flagName, helpText, int, parseOptions, text, type OptionTable } from '../src/commands/options.js';

const table = {
  numFrames: int({ value: 'T', min: 1, help: 'frames per clip', default: 8 }),
  imageSize: int({ value: 'S', min: 8, max: 64, help: 'side of the frames', deprecated: ['size'] }),
  out: file({ value: 'DIR', help: 'where the files go', required: true, group: 'Output' }),
  mode: choice({ values: ['test', 'train'] as const, help: 'how to sample', default: 'test' }),
  name: text({ value: 'NAME', help: 'a name' }),
  flip: flag({ help: 'flip' }),
} satisfies OptionTable;

function parse(argv: string[]): { options: Record<string, unknown>; given: string[]; notes: string[] } {
  const notes: string[] = [];
  const r = parseOptions(table, argv, { command: 'demo', cwd: '/data', note: (l) => notes.push(l) });
  return { options: r.options, given: [...r.given].sort(), notes };
}

describe('parseOptions', () => {
  it('reads each flag into its type, with defaults and paths against the working folder', () => {
    const r = parse(['--out', 'frames', '--image-size', '32', '--flip']);
    expect(r.options).toEqual({ numFrames: 8, imageSize: 32, out: '/data/frames', mode: 'test', name: undefined, flip: true });
    expect(r.given).toEqual(['flip', 'imageSize', 'out']);
    expect(r.notes).toEqual([]);
  });

  it('takes an old spelling with a one-line note', () => {
    const r = parse(['--out', 'x', '--size', '16']);
    expect(r.options.imageSize).toBe(16);
    expect(r.given).toContain('imageSize');
    expect(r.notes).toEqual(['losa: note: --size is deprecated; use --image-size']);
  });

  it('refuses bad values, unknown options and missing required ones in the usual words', () => {
    expect(() => parse(['--out', 'x', '--image-size', '65'])).toThrow('Expected `--image-size` to be an integer from 8 to 64, got "65"');
    expect(() => parse(['--out', 'x', '--num-frames', '2.5'])).toThrow('Expected `--num-frames` to be an integer ≥ 1, got "2.5"');
    expect(() => parse(['--out', 'x', '--mode', 'eval'])).toThrow('Expected `--mode` to be one of `test`, `train`, got "eval"');
    expect(() => parse([])).toThrow('Expected `--out` to be given, got undefined');
    expect(() => parse(['--out', 'x', '--frobnicate'])).toThrow(/Unknown option '--frobnicate'.*\(see `losa demo --help`\)$/);
  });
});

describe('helpText', () => {
  it('lists every option once, with its value, help and default, by group; old spellings stay hidden', () => {
    const help = helpText('losa demo --out DIR [options]', 'Does a demo.', table);
    expect(help.split('\n').slice(0, 4)).toEqual(['Usage: losa demo --out DIR [options]', '', 'Does a demo.', '']);
    expect(help).toMatch(/^Options:\n {2}--num-frames T {4,}frames per clip \(default 8\)$/m);
    expect(help).toMatch(/^ {2}--mode test\|train {2,}how to sample \(default test\)$/m);
    expect(help).toMatch(/^Output:\n {2}--out DIR {2,}where the files go$/m);
    expect(help).not.toContain('--size');
    expect(flagName('backboneSeed')).toBe('backbone-seed');
  });
});

describe('every command', () => {
  const tables = async (): Promise<Map<string, OptionTable>> => {
    const out = new Map<string, OptionTable>();
    for (const [name, entry] of Object.entries(COMMANDS)) out.set(name, (await entry.load()).options);
    return out;
  };

  it('documents every option it parses in --help', async () => {
    for (const [name, options] of await tables()) {
      const r = await runCli([...name.split(' '), '--help']);
      expect(r.status, name).toBe(0);
      for (const key of Object.keys(options)) expect(r.stdout, `${name} --${flagName(key)}`).toContain(`--${flagName(key)}`);
    }
    const train = (await runCli(['train', '--help'])).stdout;
    expect(train).toMatch(/--backbone-seed N\s+seed of the random weights when no --weights is given \(default 0\)/);
    expect(train).toMatch(/--tf-backend auto\|tensorflow\|wasm\|cpu\s+TensorFlow\.js backend/);
    expect(train).toMatch(/--crop-scale MIN,MAX\s+training: area range of the random resized crop \(default 0\.7,1\)/);
    expect(train).toMatch(/--rank R\s+rank of the channel mixers \(D → R → D\) \(default 16\)/);
  });

  it('gives a shared flag the same meaning in every command that has it', async () => {
    const all = await tables();
    const shared = ['device', 'chunk', 'workers', 'views', 'crops', 'numFrames', 'stride', 'imageSize', 'pool', 'layers', 'backboneSeed', 'checkpoint', 'last', 'tfBackend', 'sampling', 'cropScale', 'flip'];
    for (const key of shared) {
      const helps = [...all.values()].flatMap((t) => (t[key] ? [t[key]!.help] : []));
      expect(helps.length, key).toBeGreaterThan(1);
      // info adds what a value is for ("…, for the feature size"); the meaning is the same.
      const shortest = helps.reduce((a, b) => (a.length <= b.length ? a : b));
      for (const help of helps) expect(help.startsWith(shortest), `--${flagName(key)}: "${help}" vs "${shortest}"`).toBe(true);
    }
    // --seed is a run's seed of random choices; the backbone's is --backbone-seed, everywhere.
    expect(all.get('features')!.seed).toBeUndefined();
    expect(all.get('features')!.backboneSeed!.deprecated).toEqual(['seed']);
    expect(all.get('data synth')!.workers!.deprecated).toEqual(['jobs']);
    expect(all.get('info')!.numFrames!.deprecated).toEqual(['frames']);
  });

  it('prints the deprecation note of an old spelling and goes on', async () => {
    const r = await runCli(['info', '--backbone', 'vit-ti16', '--frames', '4', '--json']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('losa: note: --frames is deprecated; use --num-frames\n');
    expect(JSON.parse(r.stdout).featureShape[0]).toBe(4);
  });
});
