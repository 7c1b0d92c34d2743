// Placeholder until its issue lands: the command registry names every command up front.
import type { Command } from './command.js';
import { LosaError } from '../errors.js';

export const command: Command = {
  name: 'info',
  summary: '',
  usage: 'losa info (not built yet)',
  options: {},
  async run() {
    throw new LosaError('`info` is not built yet');
  },
};
