// The options `eval` and `classify` share: which trained run, on which device, and how it is
// sampled at test time.
import { loadTrainedRun, type TrainedRun } from '../train/index.js';
import { bool, choice, int, requireStr, str } from './args.js';
import type { OptionSpec, ParsedArgs } from './command.js';

export const TRAINED_RUN_OPTIONS: OptionSpec = {
  checkpoint: { type: 'string' }, views: { type: 'string' }, crops: { type: 'string' }, weights: { type: 'string' },
  device: { type: 'string' }, chunk: { type: 'string' }, last: { type: 'boolean' }, workers: { type: 'string' },
  json: { type: 'boolean' },
};

export interface TestViews {
  /** Temporal clips per video. */
  views: number;
  /** Spatial crops per clip. */
  crops: 1 | 3;
  /** Concurrent decoders. */
  workers: number;
}

/** Load the run named by --checkpoint (best weights, or --last), on --device with --chunk. */
export function openTrainedRun(values: ParsedArgs['values']): Promise<TrainedRun> {
  return loadTrainedRun(requireStr(values, 'checkpoint'), {
    device: choice(values, 'device', ['cpu', 'cuda'] as const, 'cpu'),
    chunk: values.chunk === undefined ? undefined : int(values, 'chunk', 1, 1),
    weights: str(values, 'weights'),
    which: bool(values, 'last') ? 'last' : 'best',
  });
}

export function testViews(values: ParsedArgs['values']): TestViews {
  return {
    views: int(values, 'views', 1, 1),
    crops: Number(choice(values, 'crops', ['1', '3'] as const, '1')) as 1 | 3,
    workers: int(values, 'workers', 2, 1),
  };
}
