// Every `losa` command, loaded on demand.
import type { Command } from './command.js';

export const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  'data synth': { summary: 'write a synthetic Kinetics-style data set whose classes differ only in time', load: async () => (await import('./data-synth.js')).command },
  frames: { summary: 'sample frames from a video exactly as the model sees them, as PNG files', load: async () => (await import('./frames.js')).command },
  info: { summary: 'parameters, FLOPs, memory and chunk size of a backbone', load: async () => (await import('./info.js')).command },
  features: { summary: 'run the frozen backbone and write per-layer pooled features', load: async () => (await import('./features.js')).command },
  train: { summary: 'train the LoSA side network on a folder of videos', load: async () => (await import('./train.js')).command },
  eval: { summary: 'evaluate a trained run: top-1, top-5, per-class accuracy, confusion matrix', load: async () => (await import('./eval.js')).command },
  classify: { summary: 'classify video or image files with a trained run', load: async () => (await import('./classify.js')).command },
};
