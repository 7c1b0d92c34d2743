// The graph's weights go to an ONNX external-data file in a private temporary folder, tensor by
// tensor, and the session is created from the model file beside it. onnxruntime maps that file
// and packs the weights into its own buffers, so the process holds about one copy of the
// weights at any time (measured: ViT-L/16, 1.13 GiB of weights, peaks at 1.25 GiB; handing the
// same bytes over as an in-memory buffer peaks at 2.40 GiB). The folder is removed as soon as
// the session exists.
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LosaError } from '../errors.js';
import type { ExternalRef } from './graph.js';

export const EXTERNAL_DATA_FILE = 'weights.bin';
export const MODEL_FILE = 'model.onnx';

/** Offsets are page aligned so that onnxruntime can map each tensor in place. */
const ALIGN = 4096;

export class ExternalDataWriter {
  readonly refs = new Map<string, ExternalRef>();
  private offset = 0;

  private constructor(readonly dir: string, private readonly handle: FileHandle) {}

  /** A fresh private folder under `parent` (default: the system's temporary folder). */
  static async create(parent = os.tmpdir()): Promise<ExternalDataWriter> {
    let dir: string;
    try {
      dir = await fs.mkdtemp(path.join(parent, 'losa-backbone-'));
    } catch (error) {
      throw new LosaError(`${parent}: cannot create a temporary folder for the backbone's weights (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
    const handle = await fs.open(path.join(dir, EXTERNAL_DATA_FILE), 'w');
    return new ExternalDataWriter(dir, handle);
  }

  /** Append one float32 tensor. */
  async add(name: string, data: Float32Array): Promise<void> {
    const start = Math.ceil(this.offset / ALIGN) * ALIGN;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let done = 0;
    try {
      while (done < bytes.length) {
        const want = Math.min(bytes.length - done, 1 << 30);
        const { bytesWritten } = await this.handle.write(bytes, done, want, start + done);
        done += bytesWritten;
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new LosaError(`${path.join(this.dir, EXTERNAL_DATA_FILE)}: cannot write the backbone's weights (${code === 'ENOSPC' ? 'no space left on the device; set TMPDIR to a folder with room' : code ?? String(error)})`);
    }
    this.refs.set(name, { location: EXTERNAL_DATA_FILE, offset: start, length: bytes.length });
    this.offset = start + bytes.length;
  }

  get bytes(): number {
    return this.offset;
  }

  /** Close the data file and write the model beside it; returns the model's path. */
  async finish(model: Uint8Array): Promise<string> {
    await this.handle.close();
    const file = path.join(this.dir, MODEL_FILE);
    await fs.writeFile(file, model);
    return file;
  }

  async remove(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
