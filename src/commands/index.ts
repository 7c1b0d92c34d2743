// Every `losa` command with its one-line summary (for `losa --help`), loaded on demand.
import { holdYoungGeneration } from '../gc.js';
import type { Command } from './command.js';
import type { OptionTable } from './options.js';

type Entry = { summary: string; load: () => Promise<Command<OptionTable>> };
const entry = (summary: string, load: () => Promise<{ command: unknown }>): Entry => ({
  summary,
  load: async () => (await load()).command as Command<OptionTable>,
});

export const COMMANDS: Record<string, Entry> = {
  'data synth': entry('write a synthetic Kinetics-style data set whose classes differ only in time', () => import('./data-synth.js')),
  frames: entry('sample frames from a video exactly as the model sees them, as PNG files', () => import('./frames.js')),
  info: entry('parameters, FLOPs, memory and chunk size of a backbone', () => import('./info.js')),
  features: entry('run the frozen backbone and write per-layer pooled features', () => import('./features.js')),
  // Before its modules load: the young generation grows while they do (gc.ts says why it is held).
  train: entry('train the LoSA side network on a folder of videos', () => (holdYoungGeneration(true), import('./train.js'))),
  extract: entry('compute the feature cache of a data set, on many machines through a queue on Redis', () => import('./extract.js')),
  worker: entry('take feature-extraction jobs from a queue on Redis and write them into the shared cache', () => import('./worker.js')),
  eval: entry('evaluate a trained run: top-1, top-5, per-class accuracy, confusion matrix', () => import('./eval.js')),
  classify: entry('classify video or image files with a trained run', () => import('./classify.js')),
  'cache list': entry('what the feature cache folder holds: entries, size against its cap, last use', async () => ({ command: (await import('./cache.js')).list })),
  'cache clear': entry('remove feature cache entries, least recently used first (all, or down to --keep SIZE)', async () => ({ command: (await import('./cache.js')).clear })),
};
