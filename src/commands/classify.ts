// Placeholder until its issue lands: the command registry names every command up front.
import type { Command } from './command.js';
import { LosaError } from '../errors.js';

export const command: Command = {
  name: 'classify',
  summary: '',
  usage: 'losa classify (not built yet)',
  options: {},
  async run() {
    throw new LosaError('`classify` is not built yet');
  },
};
