// A video file → its clips' frames in chunks of C, exactly what the model sees before
// normalisation, never a whole clip at once: frames are decoded one at a time (decode.ts),
// cut into every clip that uses them and handed on C at a time, so memory is one chunk and
// one decoded frame whatever T, the number of views or the length of the file.
// In test mode the frames of every view are decoded together (their union, once) and the
// crops are cut from them; a chunk may hold frames of several clips, each tagged (clip, t).
import { expected, LosaError } from '../errors.js';
import type { Rng } from '../random.js';
import type { ClipOptions } from './clip.js';
import { decodeFrameStream } from './decode.js';
import { probeVideo, type VideoInfo } from './probe.js';
import {
  DEFAULT_CROP_RATIO,
  DEFAULT_CROP_SCALE,
  DEFAULT_CROPS,
  DEFAULT_VIEWS,
  frameTimestamps,
  sampleFrameIndices,
  scaledSize,
  testCrops,
  trainCrop,
  type CropBox,
} from './sampling.js';

/** A clip without its frames: which frames, which crop, flipped or not. */
export interface ClipLayout {
  path: string;
  /** Temporal view (0 in train mode). */
  view: number;
  /** Spatial crop (0 in train mode). */
  crop: number;
  /** Frame index of each of the T frames. */
  indices: number[];
  /** Seconds of each frame: index / fps. */
  timestamps: number[];
  numFrames: number;
  size: number;
  flipped: boolean;
  /** The crop in the frame as displayed (train) or in the scaled frame (test). */
  box: CropBox;
}

export interface FrameChunk {
  /** [count, S, S, 3] rgb24, cropped (and flipped) as each frame's clip says; yours until released. */
  frames: Uint8Array;
  count: number;
  /** For frame j of the chunk: its clip (an index into `clips`) … */
  clip: Int32Array;
  /** … and its position t in that clip. */
  t: Int32Array;
  /**
   * Hand the chunk's arrays back for a later chunk (do not touch them after). Optional: an
   * unreleased chunk is left to the garbage collector, and the stream allocates anew.
   */
  release(): void;
}

export interface ClipStream {
  info: VideoInfo;
  clips: ClipLayout[];
  /**
   * Every frame of every clip once, at most `chunk` frames per yield, in decode order (frame
   * index ascending; for one clip that is t ascending, since sampling never goes back). Once.
   */
  chunks(chunk: number): AsyncGenerator<FrameChunk>;
  /** Known once the chunks are through: the file ended before some frames, which repeat the last frame read. */
  readonly partial: boolean;
  /** Frames taken from the decoder so far (none is taken before the chunk that needs it). */
  readonly framesDecoded: number;
}

export function checkClipOptions(options: ClipOptions): void {
  const { numFrames, size, mode } = options;
  if (!Number.isSafeInteger(numFrames) || numFrames < 1) throw expected('numFrames', 'an integer ≥ 1', numFrames);
  if (!Number.isSafeInteger(size) || size < 1) throw expected('size', 'an integer ≥ 1', size);
  if (mode !== 'train' && mode !== 'test') throw expected('mode', '`train` or `test`', mode);
  const views = options.views ?? DEFAULT_VIEWS;
  if (!Number.isSafeInteger(views) || views < 1) throw expected('views', 'an integer ≥ 1', views);
  if (options.crops !== undefined && options.crops !== 1 && options.crops !== 3) throw expected('crops', '1 or 3', options.crops);
}

/** Copy `box` of an [H, W, 3] frame into `out` at `offset` ([box.height, box.width, 3]). */
export function cropFrame(frame: Uint8Array, width: number, box: CropBox, out: Uint8Array, offset: number): void {
  const rowBytes = box.width * 3;
  for (let y = 0; y < box.height; y++) {
    const from = ((box.y + y) * width + box.x) * 3;
    out.set(frame.subarray(from, from + rowBytes), offset + y * rowBytes);
  }
}

/** Mirror [T, H, W, 3] frames left to right, in place. */
export function flipFramesHorizontally(frames: Uint8Array, width: number): void {
  const rowBytes = width * 3;
  for (let row = 0; row < frames.length; row += rowBytes) {
    for (let a = 0, b = width - 1; a < b; a++, b--) {
      for (let c = 0; c < 3; c++) {
        const i = row + a * 3 + c;
        const j = row + b * 3 + c;
        const t = frames[i]!;
        frames[i] = frames[j]!;
        frames[j] = t;
      }
    }
  }
}

/**
 * How a decoded frame becomes clip frames: the decoder crops and scales to S×S (train), scales
 * and cuts the one test crop (test, one crop), or scales and JavaScript cuts the crops (three).
 */
interface Placement {
  decodeWidth: number;
  decodeHeight: number;
  /** Train: the crop the decoder applies before scaling to S×S. */
  decodeCrop?: CropBox;
  /** Test with one crop: the decoder cuts it from the scaled frame; frames arrive S×S. */
  cropScaled?: CropBox;
}

/**
 * The clips of a file, drawn with `rng` in the order loadClips always has (indices, crop, flip).
 * Train mode: one clip (random temporal sampling, random resized crop, optional flip). Test
 * mode: views × crops clips, view-major. A still image is one frame repeated T times with the
 * test transform (short side → S, centre or 3 crops).
 */
function layoutClips(info: VideoInfo, path: string, options: ClipOptions, rng: Rng): { clips: ClipLayout[]; placement: Placement } {
  const { numFrames: T, size: S, mode } = options;
  const views = mode === 'test' ? (options.views ?? DEFAULT_VIEWS) : 1;
  const perView = info.image
    ? Array.from({ length: views }, () => new Array<number>(T).fill(0))
    : sampleFrameIndices(info.frameCount, { numFrames: T, mode, sampling: options.sampling, stride: options.stride, views }, rng);
  const base = { path, numFrames: T, size: S };
  if (mode === 'train' && !info.image) {
    const box = trainCrop(info.width, info.height, rng, options.scale ?? DEFAULT_CROP_SCALE, options.ratio ?? DEFAULT_CROP_RATIO);
    const flipped = options.flip === true && rng.next() < 0.5;
    const indices = perView[0]!;
    return {
      clips: [{ ...base, view: 0, crop: 0, indices, timestamps: frameTimestamps(indices, info.fps), flipped, box }],
      placement: { decodeWidth: S, decodeHeight: S, decodeCrop: box },
    };
  }
  const scaled = scaledSize(info.width, info.height, S);
  const boxes = testCrops(scaled.width, scaled.height, S, mode === 'test' ? (options.crops ?? DEFAULT_CROPS) : 1);
  const clips = perView.flatMap((indices, view) => boxes.map((box, crop) => ({
    ...base, view, crop, indices, timestamps: frameTimestamps(indices, info.fps), flipped: false, box,
  })));
  if (clips.length === 0) throw new LosaError(`${path}: no clips`);
  // One crop: the decoder cuts it, so only S×S frames cross the pipe.
  const cropScaled = boxes.length === 1 ? boxes[0] : undefined;
  return { clips, placement: { decodeWidth: scaled.width, decodeHeight: scaled.height, cropScaled } };
}

/** Probe a file and lay out its clips; their frames come from `chunks(C)`. */
export async function openClips(path: string, options: ClipOptions, rng: Rng): Promise<ClipStream> {
  checkClipOptions(options);
  const info = await probeVideo(path);
  const { clips, placement } = layoutClips(info, path, options, rng);
  // Which (clip, t) slots each frame index fills.
  const slots = new Map<number, { clip: number; t: number }[]>();
  clips.forEach((c, clip) => c.indices.forEach((index, t) => {
    if (!slots.has(index)) slots.set(index, []);
    slots.get(index)!.push({ clip, t });
  }));
  let partial = false;
  let framesDecoded = 0;
  const stream: ClipStream = {
    info,
    clips,
    get partial() {
      return partial;
    },
    get framesDecoded() {
      return framesDecoded;
    },
    async *chunks(chunk: number) {
      if (!Number.isSafeInteger(chunk) || chunk < 1) throw expected('chunk', 'an integer ≥ 1', chunk);
      const decoded = decodeFrameStream(info, [...slots.keys()], {
        width: placement.decodeWidth, height: placement.decodeHeight, crop: placement.decodeCrop, cropScaled: placement.cropScaled,
        threads: options.threads, interpolation: options.interpolation, signal: options.signal, seek: options.seek,
      });
      const out = new ChunkBuilder(chunk, options.size, (frame, clip, target, offset) => {
        if (placement.decodeCrop || placement.cropScaled) {
          target.set(frame, offset); // already S×S
          if (clip.flipped) flipFramesHorizontally(target.subarray(offset, offset + frame.length), options.size);
        } else cropFrame(frame, placement.decodeWidth, clip.box, target, offset);
      });
      let last: Uint8Array | undefined;
      let lastIndex = -1;
      for await (const { index, frame } of decoded) {
        framesDecoded++;
        for (const slot of slots.get(index)!) if (out.add(frame, clips[slot.clip]!, slot)) yield out.take();
        last = frame;
        lastIndex = index;
      }
      // Frames the file does not have (it ended early): the last frame read stands in.
      for (const [index, list] of [...slots].filter(([i]) => i > lastIndex).sort((a, b) => a[0] - b[0])) {
        partial = true;
        for (const slot of list) if (out.add(last!, clips[slot.clip]!, slot)) yield out.take();
      }
      if (out.count > 0) yield out.take();
    },
  };
  return stream;
}

interface ChunkArrays {
  frames: Uint8Array;
  clip: Int32Array;
  t: Int32Array;
}

/**
 * Fills chunks of `capacity` clip frames ([capacity, S, S, 3]); a full chunk is taken and a new
 * one begun, in arrays handed back by `release` when there are some: a consumer that releases
 * its chunks leaves nothing per frame to the garbage collector (whose backlog would otherwise
 * add tens of MB to the peak of a long clip before it runs).
 */
class ChunkBuilder {
  private arrays: ChunkArrays;
  private readonly free: ChunkArrays[] = [];
  count = 0;
  private readonly frameBytes: number;

  constructor(
    private readonly capacity: number,
    size: number,
    private readonly place: (frame: Uint8Array, clip: ClipLayout, target: Uint8Array, offset: number) => void,
  ) {
    this.frameBytes = size * size * 3;
    this.arrays = this.fresh();
  }

  private fresh(): ChunkArrays {
    return this.free.pop() ?? {
      frames: new Uint8Array(this.capacity * this.frameBytes), // [C, S, S, 3]
      clip: new Int32Array(this.capacity),
      t: new Int32Array(this.capacity),
    };
  }

  /** Place one clip frame; true when the chunk is full. */
  add(frame: Uint8Array, clip: ClipLayout, slot: { clip: number; t: number }): boolean {
    this.place(frame, clip, this.arrays.frames, this.count * this.frameBytes);
    this.arrays.clip[this.count] = slot.clip;
    this.arrays.t[this.count] = slot.t;
    return ++this.count === this.capacity;
  }

  take(): FrameChunk {
    const n = this.count;
    const arrays = this.arrays;
    let released = false;
    const chunk: FrameChunk = {
      frames: arrays.frames.subarray(0, n * this.frameBytes), count: n, clip: arrays.clip.subarray(0, n), t: arrays.t.subarray(0, n),
      release: () => {
        if (!released) this.free.push(arrays);
        released = true;
      },
    };
    this.arrays = this.fresh();
    this.count = 0;
    return chunk;
  }
}
