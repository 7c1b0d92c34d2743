// The only place losa starts ffmpeg or ffprobe. The binaries come from the npm packages that
// ship them (@ffmpeg-installer/ffmpeg, @ffprobe-installer/ffprobe); FFMPEG_PATH and
// FFPROBE_PATH override them. Processes are spawned without a shell, and every input path is
// passed as an absolute `file:` URL, so a name with spaces, non-ASCII characters, `%`, `:` or
// a leading `-` is always read as a file and never as an option or a protocol.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, constants as fsConstants } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { LosaError } from '../errors.js';

const require = createRequire(import.meta.url);

type Tool = 'ffmpeg' | 'ffprobe';

const ENV: Record<Tool, string> = { ffmpeg: 'FFMPEG_PATH', ffprobe: 'FFPROBE_PATH' };
const PACKAGE: Record<Tool, string> = { ffmpeg: '@ffmpeg-installer/ffmpeg', ffprobe: '@ffprobe-installer/ffprobe' };

const resolved = new Map<Tool, Promise<string>>();

async function resolveTool(tool: Tool): Promise<string> {
  const override = process.env[ENV[tool]];
  if (override !== undefined && override !== '') {
    // A bare name ("ffmpeg") is looked up on PATH by spawn; a path must exist and be executable.
    if (!override.includes('/') && !override.includes('\\')) return override;
    try {
      await fs.access(override, fsConstants.X_OK);
    } catch {
      throw new LosaError(`${override}: ${ENV[tool]} does not name an executable ${tool}`);
    }
    return override;
  }
  let binary: string;
  try {
    binary = (require(PACKAGE[tool]) as { path: string }).path;
  } catch (error) {
    throw new LosaError(`${tool} not found: ${PACKAGE[tool]} is not installed for this platform (${(error as Error).message}); set ${ENV[tool]}`);
  }
  try {
    await fs.access(binary, fsConstants.X_OK);
  } catch {
    // npm 11 may skip the packages' postinstall, which is what makes the binaries executable.
    try {
      const { mode } = await fs.stat(binary);
      await fs.chmod(binary, mode | 0o111);
    } catch (error) {
      throw new LosaError(`${binary}: ${tool} is not executable and cannot be made so (${(error as Error).message}); set ${ENV[tool]}`);
    }
  }
  return binary;
}

/** Path of the ffmpeg binary in use (FFMPEG_PATH, else the npm-shipped one), made executable if needed. */
export function ffmpegPath(): Promise<string> {
  if (!resolved.has('ffmpeg')) resolved.set('ffmpeg', resolveTool('ffmpeg'));
  return resolved.get('ffmpeg')!;
}

/** Path of the ffprobe binary in use (FFPROBE_PATH, else the npm-shipped one), made executable if needed. */
export function ffprobePath(): Promise<string> {
  if (!resolved.has('ffprobe')) resolved.set('ffprobe', resolveTool('ffprobe'));
  return resolved.get('ffprobe')!;
}

/** Forget resolved binaries (tests that change FFMPEG_PATH / FFPROBE_PATH). */
export function resetFfmpegPaths(): void {
  resolved.clear();
}

/**
 * The input argument for a file: `file:` plus the absolute path. ffmpeg then reads it as a
 * plain file whatever it is called (a relative "-x.mp4" would be an option; "a:b.mp4" a protocol).
 */
export function ffmpegInput(file: string): string {
  return `file:${path.resolve(file)}`;
}

/** Keep only the last `limit` characters of what a process wrote to stderr (bounded memory). */
class TailBuffer {
  private text = '';
  constructor(private readonly limit = 16_384) {}
  push(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > 2 * this.limit) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    return this.text.slice(-this.limit);
  }
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
  /** The tail of stderr. */
  stderr: string;
}

function spawnTool(binary: string, args: readonly string[], stdin: 'pipe' | 'ignore' = 'ignore'): ChildProcess {
  // Spawn errors (ENOENT) arrive asynchronously; waitFor() attaches the handler right away.
  return spawn(binary, args, { stdio: [stdin, 'pipe', 'pipe'], shell: false, windowsHide: true });
}

function waitFor(child: ChildProcess, tool: Tool, binary: string): Promise<ProcessResult> {
  const stderr = new TailBuffer();
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  return new Promise((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(new LosaError(`${binary}: cannot run ${tool} (${error.code ?? error.message}); set ${ENV[tool]}`));
    });
    child.once('close', (code, signal) => resolve({ code, signal, stderr: stderr.toString() }));
  });
}

/**
 * Start ffmpeg with `args` (stdout and stderr piped; stdin closed unless `stdin` is true, for
 * raw frames written to it). `done` settles when the process has exited and its output
 * streams are closed; read stdout meanwhile.
 */
export async function startFfmpeg(args: readonly string[], options: { stdin?: boolean } = {}): Promise<{ child: ChildProcess; done: Promise<ProcessResult> }> {
  const binary = await ffmpegPath();
  const child = options.stdin
    ? spawnTool(binary, ['-hide_banner', ...args], 'pipe')
    : spawnTool(binary, ['-nostdin', '-hide_banner', ...args]);
  const done = waitFor(child, 'ffmpeg', binary);
  done.catch(() => {}); // the caller awaits it later; a spawn failure must not count as unhandled meanwhile
  return { child, done };
}

/** Run ffmpeg to completion, discarding stdout (for encoding to files). */
export async function runFfmpeg(args: readonly string[]): Promise<ProcessResult> {
  const { child, done } = await startFfmpeg(args);
  child.stdout?.resume();
  return done;
}

/** Run ffprobe and collect its stdout as text. */
export async function runFfprobe(args: readonly string[]): Promise<ProcessResult & { stdout: string }> {
  const binary = await ffprobePath();
  const child = spawnTool(binary, ['-hide_banner', ...args]);
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
  const result = await waitFor(child, 'ffprobe', binary);
  return { ...result, stdout: Buffer.concat(chunks).toString('utf8') };
}
