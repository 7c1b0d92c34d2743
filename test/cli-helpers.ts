// Runs the CLI in-process, as `losa ARGV...` from `cwd`, with stdout and stderr captured and
// no terminal (so every command prints plain lines).
import { Writable } from 'node:stream';
import { main } from '../src/cli.js';
import type { CommandIO } from '../src/commands/command.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export async function runCli(argv: string[], cwd: string = process.cwd()): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]): Writable => new Writable({ write(chunk, _e, done) { into.push(String(chunk)); done(); } });
  const io: CommandIO = { stdout: sink(out), stderr: sink(err), stdin: process.stdin, isTTY: false, debug: false, cwd };
  const status = await main(argv, io);
  return { status, stdout: out.join(''), stderr: err.join('') };
}
