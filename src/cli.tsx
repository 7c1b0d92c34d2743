// `losa <command>`: parse arguments, run the command, turn errors into one line and an exit
// status (0 success, 1 runtime failure, 2 usage error). `--debug` adds the stack.
import { COMMANDS } from './commands/index.js';
import type { CommandIO } from './commands/command.js';
import { helpText, parseOptions } from './commands/options.js';
import { LosaError, UsageError, errorMessage } from './errors.js';
import { setDebugLog } from './debug.js';

const VERSION = '0.1.0';

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'losa: adapt a frozen Vision Transformer to video classification with Low-rank Side Adaptation',
    '',
    'Usage: losa <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `losa <command> --help` for the options of one command. `--debug` prints stacks on errors.',
  ].join('\n');
}

/**
 * True under a CI service (`CI` or `CONTINUOUS_INTEGRATION` set, and not to 0 or false), the
 * test Ink itself uses: there Ink draws nothing until the end, so losa prints plain lines.
 */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const set = (key: string) => env[key] !== undefined && env[key] !== '0' && env[key] !== 'false';
  return set('CI') || set('CONTINUOUS_INTEGRATION');
}

export function defaultIO(): CommandIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    isTTY: Boolean(process.stdout.isTTY) && !inCi(),
    debug: false,
    cwd: process.cwd(),
  };
}

/** Runs the CLI and returns the exit status. */
export async function main(argv: string[], io: CommandIO = defaultIO()): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  io = { ...io, debug };
  setDebugLog(debug ? (line) => void io.stderr.write(`losa: debug: ${line}\n`) : undefined);
  const first = args[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.stdout.write(topHelp() + '\n');
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    io.stdout.write(VERSION + '\n');
    return 0;
  }
  const two = args.length > 1 ? `${first} ${args[1]}` : '';
  const name = two in COMMANDS ? two : first;
  const entry = COMMANDS[name];
  try {
    if (!entry) {
      const subcommands = Object.keys(COMMANDS).filter((n) => n.startsWith(`${first} `)).map((n) => n.slice(first.length + 1));
      if (subcommands.length > 0) throw new UsageError(`\`losa ${first}\` takes a subcommand: ${subcommands.join(', ')} (see \`losa --help\`)`);
      throw new UsageError(`unknown command \`${first}\`; run \`losa --help\` for the list`);
    }
    const command = await entry.load();
    const rest = args.slice(name.split(' ').length);
    const beforeDashes = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
    if (beforeDashes.includes('--help') || beforeDashes.includes('-h')) {
      io.stdout.write(helpText(command.usage, command.description, command.options, command.notes));
      return 0;
    }
    const parsed = parseOptions(command.options, rest, { command: name, cwd: io.cwd, note: (line) => io.stderr.write(line + '\n') });
    return await command.run(parsed, io);
  } catch (error) {
    const status = error instanceof UsageError ? 2 : 1;
    io.stderr.write(`losa: error: ${errorMessage(error)}\n`);
    if (debug && error instanceof Error && error.stack) io.stderr.write(error.stack + '\n');
    else if (!(error instanceof LosaError) && !(error instanceof UsageError) && error instanceof Error) {
      // An unexpected error: still one line, with a hint that a stack exists.
      io.stderr.write('losa: (run with --debug for the stack)\n');
    }
    return status;
  }
}
