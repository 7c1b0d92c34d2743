// Placeholder until its issue lands: the command registry names every command up front.
import type { Command } from './command.js';
import { LosaError } from '../errors.js';

export const command: Command = {
  name: 'features',
  summary: '',
  usage: 'losa features (not built yet)',
  options: {},
  async run() {
    throw new LosaError('`features` is not built yet');
  },
};
