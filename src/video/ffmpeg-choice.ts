// Which ffmpeg and ffprobe losa runs, and why. Pure rules over what was found; ffmpeg.ts finds
// the candidates and asks each for its version.
//
// Order: FFMPEG_PATH / FFPROBE_PATH win, each for its own tool. Otherwise a system ffmpeg and
// ffprobe on PATH, both of version 5 or newer, are preferred to the npm-shipped static build:
// that build's ffmpeg is from 2018 (security fixes and demuxer bugs of six years missing) and its
// ffprobe crashes on MPEG-TS files, while losa hands them files from anywhere. The system pair
// is taken together or not at all, because frame timestamps read by one must be those the other
// decodes.

/** The oldest system ffmpeg losa prefers to the bundled build. */
export const MIN_SYSTEM_MAJOR = 5;

export type Tool = 'ffmpeg' | 'ffprobe';
export type BinarySource = 'env' | 'system' | 'bundled';

/** What `<tool> -version` says. `major`/`minor` are undefined when the release cannot be told. */
export interface ToolVersion {
  /** The version as printed ("6.1.1-3ubuntu5", "N-47683-g0e8eb07980-static"). */
  text: string;
  major?: number;
  minor?: number;
}

export interface ChosenBinary {
  tool: Tool;
  path: string;
  source: BinarySource;
  version: ToolVersion;
  /** One sentence: why this binary. */
  reason: string;
}

export interface BinaryCandidates {
  /** FFMPEG_PATH / FFPROBE_PATH, when set. */
  env: Partial<Record<Tool, { path: string; version: ToolVersion }>>;
  /** The tools found on PATH, with their versions. */
  system: Partial<Record<Tool, { path: string; version: ToolVersion }>>;
  bundled: Record<Tool, { path: string; version: ToolVersion }>;
}

/**
 * The release from `-version` output: the first line's "version X.Y[.Z]" (also "n7.0"), else
 * the libavformat major, which maps onto releases (58 → 4, 59 → 5, 60 → 6, 61 → 7, 62 → 8) and
 * dates git snapshots such as "N-113000-g…".
 */
export function parseVersion(output: string): ToolVersion {
  const first = output.split(/\r?\n/, 1)[0] ?? '';
  const text = /\bversion\s+(\S+)/.exec(first)?.[1] ?? (first.trim() || 'unknown');
  const release = /^n?(\d+)\.(\d+)/.exec(text);
  if (release) return { text, major: Number(release[1]), minor: Number(release[2]) };
  const lavf = /^\s*libavformat\s+(\d+)\.\s*(\d+)/m.exec(output);
  if (lavf && Number(lavf[1]) >= 57) return { text, major: Number(lavf[1]) - 54 };
  return { text };
}

/** "6.1", "5.x" or the printed text when the release is unknown. */
export function versionLabel(version: ToolVersion): string {
  if (version.major === undefined) return version.text;
  return version.minor === undefined ? `${version.major}.x (${version.text})` : version.text;
}

/** Whether options of ffmpeg `major.minor` exist (`-fps_mode` came in 5.1, replacing `-vsync`). */
export function atLeast(version: ToolVersion, major: number, minor = 0): boolean {
  if (version.major === undefined) return false;
  return version.major > major || (version.major === major && (version.minor ?? 0) >= minor);
}

function systemProblem(found: BinaryCandidates['system'][Tool], tool: Tool): string | undefined {
  if (!found) return `no ${tool} on PATH`;
  if (found.version.major === undefined) return `the ${tool} on PATH (${found.path}) does not say its release (${found.version.text})`;
  if (found.version.major < MIN_SYSTEM_MAJOR) return `the ${tool} on PATH (${found.path}) is ${found.version.text}, older than ${MIN_SYSTEM_MAJOR}`;
  return undefined;
}

/** Apply the rules above to what was found. */
export function chooseBinaries(found: BinaryCandidates): Record<Tool, ChosenBinary> {
  const problem = systemProblem(found.system.ffmpeg, 'ffmpeg') ?? systemProblem(found.system.ffprobe, 'ffprobe');
  const pick = (tool: Tool): ChosenBinary => {
    const env = found.env[tool];
    const variable = tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH';
    if (env) return { tool, ...env, source: 'env', reason: `${variable} is set` };
    const system = found.system[tool];
    if (problem === undefined && system) {
      return { tool, ...system, source: 'system', reason: `the ${tool} on PATH is ${MIN_SYSTEM_MAJOR} or newer` };
    }
    return { tool, ...found.bundled[tool], source: 'bundled', reason: `the npm-shipped build, because ${problem}` };
  };
  return { ffmpeg: pick('ffmpeg'), ffprobe: pick('ffprobe') };
}

/** One line per tool for `losa info` and run headers: path, version, and why it was chosen. */
export function describeBinaries(chosen: Record<Tool, ChosenBinary>): string[] {
  return (['ffmpeg', 'ffprobe'] as const).map((tool) => {
    const b = chosen[tool];
    return `${tool.padEnd(7)}  ${b.path}, ${versionLabel(b.version)}: ${b.reason}`;
  });
}
