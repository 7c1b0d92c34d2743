// A stop reaches the decodes in flight: the pipeline hands its signal to openClips (whose
// ffmpeg is killed when it aborts), and a decode that fails because of the stop is not reported
// as a skipped file.
import { describe, expect, it, vi } from 'vitest';
import type { Backbone } from '../src/backbone/index.js';
import { featureBatches } from '../src/features/pipeline.js';
import * as video from '../src/video/index.js';

vi.mock('../src/video/index.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/video/index.js')>()),
  openClips: vi.fn(),
}));

describe('featureBatches and a stop', () => {
  it('passes its signal to the decode in flight, which ends with it; nothing is reported skipped', async () => {
    const openClips = vi.mocked(video.openClips);
    let started!: () => void;
    const decoding = new Promise<void>((resolve) => { started = resolve; });
    // A decode that runs until its signal aborts, as decodeFrameStream does (it kills ffmpeg then).
    openClips.mockImplementation(async (file, options) => ({
      info: { fps: 25, image: false } as video.VideoInfo,
      clips: [{ indices: [0, 1], timestamps: [0, 0.04] } as video.ClipLayout],
      partial: false,
      framesDecoded: 0,
      // eslint-disable-next-line require-yield
      async *chunks() {
        started();
        await new Promise<void>((_, reject) => {
          options.signal?.addEventListener('abort', () => reject(new Error(`${file}: decoding stopped`)), { once: true });
        });
      },
    }));
    const controller = new AbortController();
    const backbone = { config: { interpolation: 'bicubic' }, layers: [1], tokens: 1, width: 1, chunk: 8 } as unknown as Backbone;
    const batches = featureBatches([{ path: '/videos/a.mp4', label: 0 }], {
      backbone, batchSize: 1, signal: controller.signal, plan: () => ({ clip: { numFrames: 2, size: 8, mode: 'test' }, seed: 's' }),
    });
    const next = batches.next();
    await decoding;
    expect(openClips.mock.calls[0]![1].signal).toBe(controller.signal);
    controller.abort();
    expect(await next).toEqual({ done: true, value: undefined });
  });
});
