// Child-process entry of the backbone (isolated.ts): loads the onnxruntime session here and
// answers forward() requests. onnxruntime is native code: a crash in it (a segfault, an abort)
// ends this process only, and the parent reports it as one line instead of dying silently.
import { errorMessage } from '../errors.js';
import { collectChunkGarbage } from '../gc.js';
import { loadBackboneInProcess, type Backbone, type BackboneOptions } from './session.js';

export type ChildRequest =
  | { id: number; type: 'load'; options: BackboneOptions }
  | { id: number; type: 'forward'; frames: Float32Array | Uint8Array; numFrames: number }
  | { id: number; type: 'dispose' };

export type ChildReply =
  | { id: number; ok: true; info?: Omit<Backbone, 'forward' | 'dispose'>; features?: Float32Array }
  | { id: number; ok: false; message: string };

let backbone: Backbone | undefined;
const send = (reply: ChildReply): void => {
  process.send!(reply);
};

// The parent decides when to stop: an interrupt it turns into a checkpoint must not end the
// backbone first (Ctrl-C reaches the whole process group). When the parent goes, so does this.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('disconnect', () => process.exit(0));

process.on('message', (request: ChildRequest) => {
  void handle(request).then(send, (error: unknown) => send({ id: request.id, ok: false, message: errorMessage(error) }));
});

async function handle(request: ChildRequest): Promise<ChildReply & { ok: true }> {
  switch (request.type) {
    case 'load': {
      backbone = await loadBackboneInProcess({ ...request.options, isolate: false });
      const { forward: _f, dispose: _d, ...info } = backbone;
      return { id: request.id, ok: true, info };
    }
    case 'forward': {
      const features = await backbone!.forward(request.frames, request.numFrames);
      collectChunkGarbage(); // the request's frames, dead once normalised (see gc.ts)
      return { id: request.id, ok: true, features };
    }
    case 'dispose':
      await backbone?.dispose();
      backbone = undefined;
      return { id: request.id, ok: true };
  }
}
