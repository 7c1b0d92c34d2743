// The shape of a `losa` command. Each command is one file in src/commands/, loaded lazily by
// the CLI so that `losa frames` never pays for loading TensorFlow.js or onnxruntime.
import type { ParseArgsConfig } from 'node:util';
import type { Writable } from 'node:stream';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface CommandIO {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean };
  /** Standard input, for keys (q to stop training) when it is a terminal. */
  stdin: NodeJS.ReadStream;
  /** Whether stdout is a terminal outside CI (the dashboard and progress bars draw only then). */
  isTTY: boolean;
  debug: boolean;
  /** Where relative paths are resolved. */
  cwd: string;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export interface Command {
  /** As typed: "frames", "data synth". */
  name: string;
  /** One line for `losa --help`. */
  summary: string;
  /** The full help text printed by `losa <command> --help`. */
  usage: string;
  options: OptionSpec;
  /** Returns the exit status: 0 on success, 1 when some inputs failed. Throw LosaError/UsageError otherwise. */
  run(args: ParsedArgs, io: CommandIO): Promise<number>;
}
