// loadBackbone: the onnxruntime session in a worker thread. onnxruntime-node's session.run is a
// synchronous native call, so run on the main thread it blocks the event loop for the whole
// forward pass: the decoders' pipes stop draining and decoding cannot hide behind compute. In a
// worker the main thread stays free; frames are copied in, features transferred back.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LosaError } from '../errors.js';
import { loadBackboneInProcess, type Backbone, type BackboneOptions } from './session.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The compiled worker beside this module, or null when running from TypeScript sources. */
function workerScript(): string | null {
  const url = new URL('./worker.js', import.meta.url);
  const file = fileURLToPath(url);
  return existsSync(file) ? file : null;
}

export async function loadBackbone(options: BackboneOptions): Promise<Backbone> {
  const script = options.worker === false ? null : workerScript();
  if (!script) return loadBackboneInProcess(options);
  return loadBackboneInWorker(script, options);
}

export async function loadBackboneInWorker(script: string, options: BackboneOptions): Promise<Backbone> {
  const worker = new Worker(script);
  worker.unref(); // an undisposed backbone must not keep the process alive
  let nextId = 0;
  const waiting = new Map<number, { resolve: (r: WorkerReply & { ok: true }) => void; reject: (e: Error) => void }>();
  let dead: Error | null = null;
  const failAll = (error: Error): void => {
    dead = error;
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
  };
  worker.on('message', (reply: WorkerReply) => {
    const w = waiting.get(reply.id);
    if (!w) return;
    waiting.delete(reply.id);
    if (reply.ok) w.resolve(reply);
    else w.reject(new LosaError(reply.message));
  });
  worker.on('error', (error) => failAll(new LosaError(`backbone worker failed: ${error.message}`)));
  worker.on('exit', (code) => failAll(new LosaError(`backbone worker exited (code ${code})`)));
  const call = (request: DistributiveOmit<WorkerRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<WorkerReply & { ok: true }> => {
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.ref(); // keep the process alive while a request is out
      worker.postMessage({ ...request, id } as WorkerRequest, transfer);
    }).finally(() => {
      if (waiting.size === 0) worker.unref();
    }) as Promise<WorkerReply & { ok: true }>;
  };

  let info: WorkerReply & { ok: true };
  try {
    info = await call({ type: 'load', options: { ...options, worker: false } });
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  let disposed = false;
  return {
    ...info.info!,
    async forward(frames, numFrames, forwardOptions) {
      // postMessage copies the frames (the caller keeps its array) unless asked to transfer a
      // buffer the frames fill on their own.
      const whole = frames.byteOffset === 0 && frames.byteLength === frames.buffer.byteLength;
      const transfer = forwardOptions?.transfer && whole ? [frames.buffer as ArrayBuffer] : [];
      return (await call({ type: 'forward', frames, numFrames }, transfer)).features!;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      try {
        await call({ type: 'dispose' });
      } finally {
        await worker.terminate();
      }
    },
  };
}
