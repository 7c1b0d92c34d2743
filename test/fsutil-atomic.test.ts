// Atomic writes: the data reaches the disk (fsync) before the rename makes it the target, and
// the folder is flushed after it, so a power cut leaves either the old file or the new one,
// never an empty one. The order of the calls is what is checked.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { withAtomicFile, writeFileAtomic } from '../src/fsutil.js';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-atomic-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Records open(path), sync() on what was opened, and rename(from, to), in order. */
async function recordCalls(): Promise<string[]> {
  const calls: string[] = [];
  const probe = await fs.open(path.join(dir, 'probe'), 'w');
  const handleProto = Object.getPrototypeOf(probe) as { sync(): Promise<void> };
  await probe.close();
  const paths = new Map<number, string>();
  const open = fs.open.bind(fs);
  vi.spyOn(fs, 'open').mockImplementation(async (file, flags, mode) => {
    const handle = await open(file, flags, mode);
    paths.set(handle.fd, String(file));
    return handle;
  });
  const sync = handleProto.sync;
  vi.spyOn(handleProto, 'sync').mockImplementation(async function (this: { fd: number }) {
    calls.push(`sync ${path.basename(paths.get(this.fd) ?? '?').replace(/tmp-.*/, 'tmp')}`);
    return sync.call(this);
  });
  const rename = fs.rename.bind(fs);
  vi.spyOn(fs, 'rename').mockImplementation(async (from, to) => {
    calls.push(`rename ${path.basename(String(from)).replace(/tmp-.*/, 'tmp')} ${path.basename(String(to))}`);
    return rename(from, to);
  });
  return calls;
}

describe('atomic writes', () => {
  it('writeFileAtomic: fsync of the data, rename, fsync of the folder', async () => {
    const calls = await recordCalls();
    await writeFileAtomic(path.join(dir, 'run.json'), '{"epoch":3}');
    expect(calls).toEqual(['sync .run.json.tmp', 'rename .run.json.tmp run.json', `sync ${path.basename(dir)}`]);
    expect(await fs.readFile(path.join(dir, 'run.json'), 'utf8')).toBe('{"epoch":3}');
  });

  it('withAtomicFile: the same order for a file written by someone else (a child process, a writer)', async () => {
    const calls = await recordCalls();
    await withAtomicFile(path.join(dir, 'last.safetensors'), (tmp) => fs.writeFile(tmp, 'weights'));
    expect(calls).toEqual(['sync .last.safetensors.tmp', 'rename .last.safetensors.tmp last.safetensors', `sync ${path.basename(dir)}`]);
  });

  it('a failed write leaves the old file and no temporary file', async () => {
    const target = path.join(dir, 'keep.json');
    await writeFileAtomic(target, 'old');
    await expect(withAtomicFile(target, async (tmp) => {
      await fs.writeFile(tmp, 'half');
      throw new Error('ENOSPC: no space left on device');
    })).rejects.toThrow(/ENOSPC/);
    expect(await fs.readFile(target, 'utf8')).toBe('old');
    expect((await fs.readdir(dir)).filter((f) => f.startsWith('.keep.json'))).toEqual([]);
  });
});
