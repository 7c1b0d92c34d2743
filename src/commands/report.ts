// A failed input of a command that goes on with the others (features, eval, classify): on a
// terminal with a progress bar, the message goes above the bar (writing to stderr directly
// would tear the bar); otherwise it is the usual one line on stderr.
import type { RenderMode, Renderer } from '../ui/index.js';
import type { CommandIO } from './command.js';

export function reportInputError(renderer: Renderer, mode: RenderMode, io: CommandIO, message: string, kind: 'error' | 'skipped' = 'error'): void {
  if (mode === 'tui') renderer.emit({ type: 'log', level: 'warn', message: `${kind}: ${message}` });
  else io.stderr.write(`losa: ${kind}: ${message}\n`);
}
