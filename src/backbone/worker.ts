// Worker-thread entry of the backbone (thread.ts): loads the onnxruntime session here and
// answers forward() requests, so the main thread's event loop stays free while it computes.
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../errors.js';
import { loadBackboneInProcess, type Backbone } from './session.js';

export type WorkerRequest =
  | { id: number; type: 'load'; options: Parameters<typeof loadBackboneInProcess>[0] }
  | { id: number; type: 'forward'; frames: Float32Array; numFrames: number }
  | { id: number; type: 'dispose' };

export type WorkerReply =
  | { id: number; ok: true; info?: Omit<Backbone, 'forward' | 'dispose'>; features?: Float32Array }
  | { id: number; ok: false; message: string };

let backbone: Backbone | undefined;
const port = parentPort!;

port.on('message', (request: WorkerRequest) => {
  void handle(request).then(
    (reply) => port.postMessage(reply, reply.features ? [reply.features.buffer as ArrayBuffer] : []),
    (error: unknown) => port.postMessage({ id: request.id, ok: false, message: errorMessage(error) } satisfies WorkerReply),
  );
});

async function handle(request: WorkerRequest): Promise<WorkerReply & { ok: true }> {
  switch (request.type) {
    case 'load': {
      backbone = await loadBackboneInProcess({ ...request.options, worker: false });
      const { forward: _f, dispose: _d, ...info } = backbone;
      return { id: request.id, ok: true, info };
    }
    case 'forward':
      return { id: request.id, ok: true, features: await backbone!.forward(request.frames, request.numFrames) };
    case 'dispose':
      await backbone?.dispose();
      return { id: request.id, ok: true };
  }
}
