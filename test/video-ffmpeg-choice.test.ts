// Which ffmpeg losa runs: FFMPEG_PATH / FFPROBE_PATH, else a system pair of version 5 or newer
// on PATH, else the npm-shipped builds. The system candidates here are fake binaries (shell
// scripts that print a version) in a temporary PATH; nothing is installed.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { resolveBinaries } from '../src/video/ffmpeg-binaries.js';
import { atLeast, chooseBinaries, parseVersion, type ToolVersion } from '../src/video/ffmpeg-choice.js';

let dir: string;

/** A folder holding fake `ffmpeg`/`ffprobe` scripts that print `ffmpeg version X` and a libavformat line. */
async function fakeBin(name: string, tools: Record<string, string>): Promise<string> {
  const bin = path.join(dir, name);
  await fs.mkdir(bin, { recursive: true });
  for (const [tool, version] of Object.entries(tools)) {
    const file = path.join(bin, tool);
    await fs.writeFile(file, `#!/bin/sh\necho "${tool} version ${version} Copyright (c) 2000-2024 the FFmpeg developers"\necho "libavformat    61.  7.100 / 61.  7.100"\n`);
    await fs.chmod(file, 0o755);
  }
  return bin;
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-ffmpeg-choice-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('parseVersion', () => {
  it.each([
    ['ffmpeg version 6.1.1-3ubuntu5 Copyright (c) 2000-2023 the FFmpeg developers', '6.1.1-3ubuntu5', 6, 1],
    ['ffmpeg version n7.0.2 Copyright (c) 2000-2024', 'n7.0.2', 7, 0],
    ['ffprobe version 5.1.6-0+deb12u1 Copyright (c) 2007-2024', '5.1.6-0+deb12u1', 5, 1],
    ['ffmpeg version 7.1-full_build-www.gyan.dev Copyright', '7.1-full_build-www.gyan.dev', 7, 1],
  ])('%s', (line, text, major, minor) => {
    expect(parseVersion(`${line}\nbuilt with gcc\n`)).toEqual({ text, major, minor });
  });

  it('dates a git snapshot by its libavformat', () => {
    const bundled = 'ffmpeg version N-47683-g0e8eb07980-static https://johnvansickle.com/ffmpeg/\nlibavutil      56. 24.101 / 56. 24.101\nlibavformat    58. 24.100 / 58. 24.100\n';
    expect(parseVersion(bundled)).toEqual({ text: 'N-47683-g0e8eb07980-static', major: 4 });
    expect(parseVersion('ffmpeg version N-113000-gabc\n  libavformat    60. 16.100 / 60. 16.100')).toEqual({ text: 'N-113000-gabc', major: 6 });
    expect(parseVersion('something else entirely')).toEqual({ text: 'something else entirely' });
  });

  it('knows which options a version has', () => {
    const v = (text: string): ToolVersion => parseVersion(`ffmpeg version ${text}`);
    expect(atLeast(v('5.1.2'), 5, 1)).toBe(true);
    expect(atLeast(v('5.0.3'), 5, 1)).toBe(false);
    expect(atLeast(v('7.0'), 5, 1)).toBe(true);
    expect(atLeast(parseVersion('ffmpeg version N-1-g\nlibavformat    61. 1.100'), 5, 1)).toBe(true); // 7.x
    expect(atLeast({ text: 'unknown' }, 5, 1)).toBe(false);
  });
});

describe('chooseBinaries', () => {
  const at = (p: string, text: string) => ({ path: p, version: parseVersion(`x version ${text}`) });
  const bundled = { ffmpeg: at('/npm/ffmpeg', 'N-1-g'), ffprobe: at('/npm/ffprobe', 'N-2-g') };

  it('prefers a system pair of 5 or newer, else the bundled builds, saying why', () => {
    const system = chooseBinaries({ env: {}, system: { ffmpeg: at('/usr/bin/ffmpeg', '6.1'), ffprobe: at('/usr/bin/ffprobe', '6.1') }, bundled });
    expect(system.ffmpeg).toMatchObject({ path: '/usr/bin/ffmpeg', source: 'system' });
    expect(system.ffprobe).toMatchObject({ path: '/usr/bin/ffprobe', source: 'system' });
    const old = chooseBinaries({ env: {}, system: { ffmpeg: at('/usr/bin/ffmpeg', '4.4.2'), ffprobe: at('/usr/bin/ffprobe', '4.4.2') }, bundled });
    expect(old.ffmpeg).toMatchObject({ path: '/npm/ffmpeg', source: 'bundled' });
    expect(old.ffmpeg.reason).toContain('the ffmpeg on PATH (/usr/bin/ffmpeg) is 4.4.2, older than 5');
    const half = chooseBinaries({ env: {}, system: { ffmpeg: at('/usr/bin/ffmpeg', '6.1') }, bundled });
    expect([half.ffmpeg.source, half.ffprobe.source]).toEqual(['bundled', 'bundled']);
    expect(half.ffmpeg.reason).toContain('no ffprobe on PATH');
  });

  it('lets FFMPEG_PATH and FFPROBE_PATH win, each for its own tool', () => {
    const chosen = chooseBinaries({
      env: { ffmpeg: at('/opt/ffmpeg', '3.4') },
      system: { ffmpeg: at('/usr/bin/ffmpeg', '6.1'), ffprobe: at('/usr/bin/ffprobe', '6.1') },
      bundled,
    });
    expect(chosen.ffmpeg).toMatchObject({ path: '/opt/ffmpeg', source: 'env', reason: 'FFMPEG_PATH is set' });
    expect(chosen.ffprobe).toMatchObject({ path: '/usr/bin/ffprobe', source: 'system' });
  });
});

describe('resolveBinaries with fake binaries on PATH', () => {
  it('takes a system ffmpeg and ffprobe of 5 or newer', async () => {
    const bin = await fakeBin('new', { ffmpeg: '6.1.1-3ubuntu5', ffprobe: '6.1.1-3ubuntu5' });
    const chosen = await resolveBinaries({ PATH: bin });
    expect(chosen.ffmpeg).toMatchObject({ path: path.join(bin, 'ffmpeg'), source: 'system', version: { major: 6, minor: 1 } });
    expect(chosen.ffprobe).toMatchObject({ path: path.join(bin, 'ffprobe'), source: 'system' });
  });

  it('keeps the bundled builds when the system ones are older than 5, or only one is there', async () => {
    const old = await fakeBin('old', { ffmpeg: '4.4.2-0ubuntu0.22.04.1', ffprobe: '4.4.2-0ubuntu0.22.04.1' });
    const chosen = await resolveBinaries({ PATH: old });
    expect(chosen.ffmpeg.source).toBe('bundled');
    expect(chosen.ffmpeg.path).toMatch(/@ffmpeg-installer/);
    expect(chosen.ffprobe.path).toMatch(/@ffprobe-installer/);
    expect(chosen.ffmpeg.reason).toContain('4.4.2-0ubuntu0.22.04.1, older than 5');
    // the real bundled binaries were asked their version
    expect(chosen.ffmpeg.version.text).not.toBe('not asked');
    const half = await fakeBin('half', { ffmpeg: '7.0.2' });
    expect((await resolveBinaries({ PATH: half })).ffmpeg.reason).toContain('no ffprobe on PATH');
  });

  it('lets FFMPEG_PATH win, as a path or a name on PATH, and names a bad one', async () => {
    const bin = await fakeBin('env', { ffmpeg: '5.0.1', ffprobe: '5.0.1' });
    const other = await fakeBin('custom', { 'my-ffmpeg': '8.0' });
    const byPath = await resolveBinaries({ PATH: bin, FFMPEG_PATH: path.join(other, 'my-ffmpeg') });
    expect(byPath.ffmpeg).toMatchObject({ path: path.join(other, 'my-ffmpeg'), source: 'env', version: { major: 8 } });
    expect(byPath.ffprobe).toMatchObject({ path: path.join(bin, 'ffprobe'), source: 'system' });
    const byName = await resolveBinaries({ PATH: `${bin}${path.delimiter}${other}`, FFMPEG_PATH: 'my-ffmpeg' });
    expect(byName.ffmpeg.path).toBe(path.join(other, 'my-ffmpeg'));
    await expect(resolveBinaries({ PATH: bin, FFPROBE_PATH: path.join(dir, 'none') })).rejects.toThrow(`${path.join(dir, 'none')}: FFPROBE_PATH does not name an executable ffprobe`);
    await expect(resolveBinaries({ PATH: bin, FFMPEG_PATH: 'nowhere-ffmpeg' })).rejects.toThrow('nowhere-ffmpeg: FFMPEG_PATH names a program that is not on PATH');
  });
});

describe('losa info', () => {
  it('says which ffmpeg and ffprobe run, their versions and why', async () => {
    const text = await runCli(['info', '--backbone', 'vit-ti16']);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^ffmpeg {3}\/.*ffmpeg, .+: .+$/m);
    expect(text.stdout).toMatch(/^ffprobe {2}\/.*ffprobe, .+: .+$/m);
    const json = JSON.parse((await runCli(['info', '--backbone', 'vit-ti16', '--json'])).stdout);
    expect(json.ffmpeg.ffmpeg).toMatchObject({ tool: 'ffmpeg', source: expect.stringMatching(/^(env|system|bundled)$/) });
    expect(json.ffmpeg.ffmpeg.version.text).toBeTruthy();
  });
});
