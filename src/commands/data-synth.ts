// Placeholder until its issue lands: the command registry names every command up front.
import type { Command } from './command.js';
import { LosaError } from '../errors.js';

export const command: Command = {
  name: 'data synth',
  summary: '',
  usage: 'losa data-synth (not built yet)',
  options: {},
  async run() {
    throw new LosaError('`data-synth` is not built yet');
  },
};
