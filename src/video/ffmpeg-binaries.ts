// Finding ffmpeg and ffprobe: FFMPEG_PATH / FFPROBE_PATH, the tools on PATH, and the static
// builds inside the npm packages (@ffmpeg-installer/ffmpeg, @ffprobe-installer/ffprobe). Each
// candidate is asked `-version` once per process; ffmpeg-choice.ts decides between them. This
// module runs the binaries for their version only; media goes through ffmpeg.ts.
import { execFile } from 'node:child_process';
import { promises as fs, constants as fsConstants } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { LosaError } from '../errors.js';
import { chooseBinaries, describeBinaries, parseVersion, versionLabel, type BinaryCandidates, type ChosenBinary, type Tool, type ToolVersion } from './ffmpeg-choice.js';

const require = createRequire(import.meta.url);

const ENV: Record<Tool, string> = { ffmpeg: 'FFMPEG_PATH', ffprobe: 'FFPROBE_PATH' };
const PACKAGE: Record<Tool, string> = { ffmpeg: '@ffmpeg-installer/ffmpeg', ffprobe: '@ffprobe-installer/ffprobe' };

async function isExecutable(file: string): Promise<boolean> {
  try {
    await fs.access(file, fsConstants.X_OK);
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

/** The first executable `name` in the folders of `PATH`. */
export async function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** What `binary -version` prints (a binary that cannot run says so in `text`). */
export function versionOf(binary: string): Promise<ToolVersion> {
  return new Promise((resolve) => {
    execFile(binary, ['-version'], { timeout: 10_000, windowsHide: true }, (error, stdout) => {
      if (error && !stdout) resolve({ text: `cannot run (${(error as NodeJS.ErrnoException).code ?? error.message})` });
      else resolve(parseVersion(String(stdout)));
    });
  });
}

async function fromEnv(tool: Tool, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const value = env[ENV[tool]];
  if (value === undefined || value === '') return undefined;
  if (!value.includes('/') && !value.includes('\\')) {
    const found = await findOnPath(value, env);
    if (!found) throw new LosaError(`${value}: ${ENV[tool]} names a program that is not on PATH`);
    return found;
  }
  if (!(await isExecutable(value))) throw new LosaError(`${value}: ${ENV[tool]} does not name an executable ${tool}`);
  return value;
}

async function bundled(tool: Tool): Promise<string> {
  let binary: string;
  try {
    binary = (require(PACKAGE[tool]) as { path: string }).path;
  } catch (error) {
    throw new LosaError(`${tool} not found: ${PACKAGE[tool]} is not installed for this platform (${(error as Error).message}); install ffmpeg 5 or newer, or set ${ENV[tool]}`);
  }
  if (!(await isExecutable(binary))) {
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

async function withVersion(file: string | undefined): Promise<{ path: string; version: ToolVersion } | undefined> {
  return file === undefined ? undefined : { path: file, version: await versionOf(file) };
}

/** Find every candidate and apply the rules of ffmpeg-choice.ts (no caching; see ffmpegBinaries). */
export async function resolveBinaries(env: NodeJS.ProcessEnv = process.env): Promise<Record<Tool, ChosenBinary>> {
  const tools: Tool[] = ['ffmpeg', 'ffprobe'];
  const [envFound, systemFound] = await Promise.all([
    Promise.all(tools.map(async (t) => withVersion(await fromEnv(t, env)))),
    Promise.all(tools.map(async (t) => withVersion(await findOnPath(t, env)))),
  ]);
  const candidates: BinaryCandidates = {
    env: { ffmpeg: envFound[0], ffprobe: envFound[1] },
    system: { ffmpeg: systemFound[0], ffprobe: systemFound[1] },
    // Asked only when needed: loading the packages costs nothing, running them a few ms.
    bundled: {
      ffmpeg: { path: '', version: { text: 'not asked' } },
      ffprobe: { path: '', version: { text: 'not asked' } },
    },
  };
  const first = chooseBinaries(candidates);
  for (const tool of tools) {
    if (first[tool].source !== 'bundled') continue;
    const file = await bundled(tool);
    candidates.bundled[tool] = { path: file, version: await versionOf(file) };
  }
  return chooseBinaries(candidates);
}

let cached: Promise<Record<Tool, ChosenBinary>> | undefined;

/** The ffmpeg and ffprobe in use, their versions and why they were chosen (resolved once per process). */
export function ffmpegBinaries(): Promise<Record<Tool, ChosenBinary>> {
  cached ??= resolveBinaries();
  const current = cached;
  current.catch(() => {
    if (cached === current) cached = undefined; // a fixed environment can try again
  });
  return current;
}

/** Path of the ffmpeg in use. */
export async function ffmpegPath(): Promise<string> {
  return (await ffmpegBinaries()).ffmpeg.path;
}

/** Path of the ffprobe in use. */
export async function ffprobePath(): Promise<string> {
  return (await ffmpegBinaries()).ffprobe.path;
}

/** Forget the binaries chosen (tests that change FFMPEG_PATH, FFPROBE_PATH or PATH). */
export function resetFfmpegPaths(): void {
  cached = undefined;
}

/** The run header's word on the decoder: `ffmpeg VERSION (source, path)`, or why there is none. */
export async function decoderLabel(): Promise<string> {
  const { binaries } = await ffmpegSummary();
  if ('error' in binaries) return `ffmpeg: ${binaries.error}`;
  const f = binaries.ffmpeg;
  return `ffmpeg ${versionLabel(f.version)} (${f.source}, ${f.path})`;
}

/** For `losa info` and run headers: the binaries chosen and one line per tool; a missing ffmpeg is said, not thrown. */
export async function ffmpegSummary(): Promise<{ binaries: Record<Tool, ChosenBinary> | { error: string }; lines: string[] }> {
  try {
    const binaries = await ffmpegBinaries();
    return { binaries, lines: describeBinaries(binaries) };
  } catch (error) {
    return { binaries: { error: (error as Error).message }, lines: [`ffmpeg   ${(error as Error).message}`] };
  }
}
