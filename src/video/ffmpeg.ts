// The only place losa runs ffmpeg or ffprobe on media. fluent-ffmpeg drives both (its upstream
// is no longer maintained, so it stays behind this one module): losa sets its paths to the
// binaries ffmpeg-binaries.ts chose and hands it argument lists. One thing fluent cannot do is
// list packets (its ffprobe parser keeps streams and format only), so the frame index of
// probe.ts reads ffprobe's packet lines here directly. Processes are spawned without a shell,
// and every input path is passed as an absolute `file:` URL, so a name with spaces, non-ASCII
// characters, `%`, `:` or a leading `-` is always read as a file and never as an option or a
// protocol.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import fluent from 'fluent-ffmpeg';
import { LosaError } from '../errors.js';
import { ffmpegBinaries } from './ffmpeg-binaries.js';

export { ffmpegBinaries, ffmpegPath, ffprobePath, resetFfmpegPaths } from './ffmpeg-binaries.js';

/**
 * The input argument for a file: `file:` plus the absolute path. ffmpeg then reads it as a
 * plain file whatever it is called (a relative "-x.mp4" would be an option; "a:b.mp4" a protocol).
 */
export function ffmpegInput(file: string): string {
  return `file:${path.resolve(file)}`;
}

/** Lines ffmpeg prints after the real error, which say nothing about the file. */
const GENERIC = [
  /^Error marking filters as finished/i, /^Conversion failed/i, /^Last message repeated/i, /^Error while filtering/i,
  /^Nothing was written/i, /^Error (?:closing|flushing)/i, /^Terminating/i, /^Exiting/i, /^Error while processing the decoded data/i,
];

/**
 * The last meaningful line ffmpeg/ffprobe printed: generic follow-up lines are skipped, the
 * `[h264 @ 0x…] ` prefix and the `file:/abs/path: ` prefix before input errors are removed
 * (the caller names the file itself).
 */
export function lastErrorLine(stderr: string, input?: string): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim().replace(/^\[[^\]]* @ 0x[0-9a-f]+\]\s*/i, '')).filter((l) => l !== '');
  const meaningful = lines.filter((l) => !GENERIC.some((g) => g.test(l)));
  let line = meaningful[meaningful.length - 1] ?? lines[lines.length - 1] ?? '';
  if (input && line.startsWith(`${input}: `)) line = line.slice(input.length + 2);
  return line;
}

export interface ProcessResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines of stderr. */
  stderr: string;
}

export interface FfmpegProcess {
  /** What ffmpeg writes to `pipe:1` (ends at once when the output is a file). */
  stdout: Readable;
  /** Raw input for an `-i pipe:0` (only with `{ stdin: true }`). */
  stdin?: Writable;
  /** Settles when ffmpeg has exited and its stderr is read; rejects only when it cannot start. */
  done: Promise<ProcessResult>;
  /** Stop ffmpeg now (SIGKILL), also before it has started. */
  kill(): void;
}

/** Inputs (each with the options before its `-i`), output options and the output target. */
interface FluentParts {
  inputs: { source: string; options: string[] }[];
  outputOptions: string[];
  target: string;
}

/** Split an ffmpeg argument list into what fluent-ffmpeg builds commands from. */
export function splitFfmpegArgs(args: readonly string[]): FluentParts {
  const inputs: FluentParts['inputs'] = [];
  let pending: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-i' && i + 1 < args.length) {
      inputs.push({ source: args[++i]!, options: pending });
      pending = [];
    } else {
      pending.push(args[i]!);
    }
  }
  const target = pending.pop();
  if (inputs.length === 0 || target === undefined) throw new Error(`ffmpeg arguments need an input and an output: ${args.join(' ')}`);
  return { inputs, outputOptions: pending, target };
}

interface FluentInternals {
  ffmpegProc?: ChildProcess;
}

function exitOf(error: Error): Pick<ProcessResult, 'code' | 'signal'> {
  const code = /exited with code (\d+)/.exec(error.message);
  const signal = /killed with signal (\w+)/.exec(error.message);
  return { code: code ? Number(code[1]) : null, signal: (signal?.[1] as NodeJS.Signals | undefined) ?? null };
}

/**
 * Start ffmpeg with `args` (as on a command line, without the binary). `-i pipe:0` reads from
 * `stdin` when `{ stdin: true }`; an output of `pipe:1` comes out of `stdout`, with
 * backpressure: a consumer that stops reading stops ffmpeg. `onStderrLine` hears each line of
 * stderr as it comes.
 */
export async function startFfmpeg(
  args: readonly string[],
  options: { stdin?: boolean; onStderrLine?: (line: string) => void } = {},
): Promise<FfmpegProcess> {
  const binaries = await ffmpegBinaries();
  fluent.setFfmpegPath(binaries.ffmpeg.path);
  const parts = splitFfmpegArgs(['-hide_banner', ...(options.stdin ? [] : ['-nostdin']), ...args]);
  // Never destroyed on its own: fluent kills ffmpeg 20 ms after its output stream closes.
  const stdout = new PassThrough({ autoDestroy: false });
  const stdin = options.stdin ? new PassThrough() : undefined;
  const command = fluent({ stdoutLines: 200 });
  for (const input of parts.inputs) {
    command.input(stdin && input.source === 'pipe:0' ? stdin : input.source);
    if (input.options.length > 0) command.inputOptions(...input.options); // spread: fluent would split "a b" strings
  }
  if (parts.target === 'pipe:1' || parts.target === '-') command.output(stdout, { end: true });
  else {
    command.output(parts.target);
    stdout.end();
  }
  if (parts.outputOptions.length > 0) command.outputOptions(...parts.outputOptions);

  if (options.onStderrLine) command.on('stderr', options.onStderrLine);
  let killed = false;
  let exit: Pick<ProcessResult, 'code' | 'signal'> | undefined;
  const proc = (): ChildProcess | undefined => (command as unknown as FluentInternals).ffmpegProc;
  const done = new Promise<ProcessResult>((resolve, reject) => {
    command.on('start', () => {
      proc()?.once('exit', (code, signal) => { exit = { code, signal }; });
      if (killed) proc()?.kill('SIGKILL');
    });
    command.on('end', (_out, stderr) => resolve({ code: 0, signal: null, stderr: stderr ?? '' }));
    command.on('error', (error: NodeJS.ErrnoException, _out, stderr) => {
      stdout.end();
      if (error.code === 'ENOENT' || error.code === 'EACCES') {
        reject(new LosaError(`${binaries.ffmpeg.path}: cannot run ffmpeg (${error.code}); set FFMPEG_PATH`));
        return;
      }
      resolve({ ...(exit ?? exitOf(error)), stderr: stderr ?? error.message });
    });
  });
  done.catch(() => {}); // the caller awaits it later; a start failure must not count as unhandled meanwhile
  command.run();
  return {
    stdout,
    stdin,
    done,
    kill(): void {
      killed = true;
      proc()?.kill('SIGKILL');
    },
  };
}

/** Run ffmpeg to completion, discarding stdout (for encoding to files). */
export async function runFfmpeg(args: readonly string[]): Promise<ProcessResult> {
  const run = await startFfmpeg(args);
  run.stdout.resume();
  return run.done;
}

/** Run ffmpeg and keep all it writes to `pipe:1` (small outputs: tests, benchmarks). */
export async function readFfmpeg(args: readonly string[]): Promise<ProcessResult & { stdout: Buffer }> {
  const run = await startFfmpeg(args);
  const chunks: Buffer[] = [];
  run.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const result = await run.done;
  return { ...result, stdout: Buffer.concat(chunks) };
}

/** What fluent-ffmpeg's ffprobe returns: `-show_streams -show_format` as objects. */
export type ProbeData = fluent.FfprobeData;

/**
 * ffprobe `-show_streams -show_format` through fluent-ffmpeg, with `options` before the input.
 * Throws LosaError `<file>: not a readable video (<ffprobe's last line>)`.
 */
export async function probeStreams(file: string, options: readonly string[]): Promise<ProbeData> {
  const binaries = await ffmpegBinaries();
  fluent.setFfprobePath(binaries.ffprobe.path);
  const input = ffmpegInput(file);
  return new Promise((resolve, reject) => {
    fluent.ffprobe(input, ['-hide_banner', ...options], (error: NodeJS.ErrnoException | null, data) => {
      if (!error) return resolve(data);
      if (error.code === 'ENOENT' || error.code === 'EACCES') {
        return reject(new LosaError(`${binaries.ffprobe.path}: cannot run ffprobe (${error.code}); set FFPROBE_PATH`));
      }
      // fluent's message: "ffprobe exited with code N" or "… killed with signal S", then stderr.
      const [status = '', ...stderr] = error.message.split('\n');
      reject(new LosaError(`${file}: not a readable video (${lastErrorLine(stderr.join('\n'), input) || status})`));
    });
  });
}

/**
 * Every packet of the video streams as (stream index, pts, flags), in file order, from one
 * demuxing pass of ffprobe (no decoding). `pts` is undefined where the container has none.
 * Lines are parsed as they arrive, so memory is what `onPacket` keeps.
 */
export async function listPackets(
  file: string,
  onPacket: (stream: number, pts: number | undefined, flags: string) => void,
): Promise<ProcessResult> {
  const binaries = await ffmpegBinaries();
  const args = ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=stream_index,pts,flags', '-of', 'csv=p=0', ffmpegInput(file)];
  const child = spawn(binaries.ffprobe.path, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false, windowsHide: true });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-16_384);
  });
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  lines.on('line', (line) => {
    const [stream, pts, flags] = line.split(',');
    if (flags === undefined) return;
    const value = Number(pts);
    onPacket(Number(stream), pts === 'N/A' || pts === '' || !Number.isFinite(value) ? undefined : value, flags);
  });
  const linesRead = new Promise<void>((resolve) => lines.once('close', resolve));
  return new Promise((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(new LosaError(`${binaries.ffprobe.path}: cannot run ffprobe (${error.code ?? error.message}); set FFPROBE_PATH`));
    });
    child.once('close', (code, signal) => void linesRead.then(() => resolve({ code, signal, stderr })));
  });
}
