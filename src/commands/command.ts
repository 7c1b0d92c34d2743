// The shape of a `losa` command. Each command is one file in src/commands/, loaded lazily by
// the CLI so that `losa frames` never pays for loading TensorFlow.js or onnxruntime. Its option
// table (options.ts) gives both the parser and the --help text.
import type { Writable } from 'node:stream';
import type { OptionTable, OptionValues } from './options.js';

export interface CommandIO {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean };
  /** Standard input, for keys (q to stop training) when it is a terminal. */
  stdin: NodeJS.ReadStream;
  /** Whether stdout is a terminal outside CI (the dashboard and progress bars draw only then). */
  isTTY: boolean;
  debug: boolean;
  /** Where relative paths are resolved (every path option and positional). */
  cwd: string;
}

export interface CommandArgs<T extends OptionTable> {
  options: OptionValues<T>;
  positionals: string[];
  /** The options given on the command line, as opposed to defaulted. */
  given: ReadonlySet<keyof T & string>;
}

export interface Command<T extends OptionTable = OptionTable> {
  /** As typed: "frames", "data synth". */
  name: string;
  /** What follows `losa` in the usage line: "classify INPUT... --checkpoint RUN_DIR [options]". */
  usage: string;
  /** What the command does, for its --help. */
  description: string;
  options: T;
  /** Text after the options in --help. */
  notes?: string;
  /** Returns the exit status: 0 on success, 1 when some inputs failed. Throw LosaError/UsageError otherwise. */
  run(args: CommandArgs<T>, io: CommandIO): Promise<number>;
}

/** A command, typed by its option table. */
export function defineCommand<T extends OptionTable>(command: Command<T>): Command<T> {
  return command;
}
