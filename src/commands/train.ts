// Placeholder until its issue lands: the command registry names every command up front.
import type { Command } from './command.js';
import { LosaError } from '../errors.js';

export const command: Command = {
  name: 'train',
  summary: '',
  usage: 'losa train (not built yet)',
  options: {},
  async run() {
    throw new LosaError('`train` is not built yet');
  },
};
