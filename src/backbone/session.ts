// The frozen backbone as an onnxruntime session: weights in, graph built, frames through in
// chunks of at most `chunk`, per-layer pooled features [N, L, P, D] out. Pure inference: the
// backbone takes no part in any gradient.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { LosaError, errorMessage } from '../errors.js';
import { formatBytes } from '../fsutil.js';
import type { BackboneConfig } from './config.js';
import { canonicalConfigJson, validateBackboneConfig } from './config.js';
import { ExternalDataWriter } from './extdata.js';
import { normalizeFrames } from './preprocess.js';
import { buildVitModel, type GraphFlavour } from './graph.js';
import { DEFAULT_LAYERS, DEFAULT_POOL, layersName, parseLayers, parsePool, poolName, pooledTokens, type PoolSpec } from './pooling.js';
import { chunkForBudget, countBackboneParams, fixedBytes } from './stats.js';
import { backboneDigest, loadWeightsFile, randomWeights, type LoadedWeights } from './weights.js';

export interface BackboneOptions {
  config: BackboneConfig;
  /**
   * The weights: a safetensors file (timm, Hugging Face or open_clip names), a shard index
   * (`model.safetensors.index.json`), or a model folder; without it the weights are seeded random.
   */
  weights?: string;
  /** 'none' | 'cls' | 'mean' | 'grid:G' (default 'grid:2'). */
  pool?: string;
  /** 'all' | 'every:K' | '3,6,9': block numbers counted from 1 (default 'all'). */
  layers?: string;
  device?: 'cpu' | 'cuda';
  /** Frames per session.run; default: what fits half the machine's memory, at most 8 (one default clip per run: measured as fast as 16 for ViT-Ti, with half the activation memory). */
  chunk?: number;
  /** Bytes for the whole backbone (weights + one chunk's activations), to derive the chunk. */
  memoryBudget?: number;
  /** Seed of the random weights (default 0). */
  seed?: number;
  /** CPU threads (default: all cores, os.availableParallelism()). */
  threads?: number;
  /** Graph flavour (default 'fused': onnxruntime's contrib Attention and Gelu ops). */
  flavour?: GraphFlavour;
  /** Folder for the temporary model files (default: the system's temporary folder). */
  tmpDir?: string;
  /**
   * Let onnxruntime repack the matmul weights into its own buffers at load (default: true
   * when the fp32 weights are under PREPACK_LIMIT_BYTES). Off, the weights stay in the
   * file-backed mapping of the external-data file: loading is several times faster, and under
   * memory pressure the OS pages weights out instead of failing.
   */
  prepack?: boolean;
  /**
   * Run onnxruntime in a child process of its own (default: true where the compiled child entry
   * exists; see isolated.ts). Its session.run is synchronous, so in this process it would stall
   * the decoders' pipes and the side network for the whole forward pass, and a native crash in
   * it would end the whole command with no word.
   */
  isolate?: boolean;
  /** Extra onnxruntime session options (for benchmarks and tuning); they override losa's. */
  sessionOptions?: InferenceSession.SessionOptions;
}

export interface Backbone {
  config: BackboneConfig;
  name: string;
  /** Tapped blocks, 0-based, in block order. */
  layers: number[];
  /** P: tokens per frame after pooling. */
  tokens: number;
  /** D. */
  width: number;
  /** Exact frozen parameter count (the whole backbone, whatever the tapped layers). */
  params: number;
  randomWeights: boolean;
  /** sha256 hex of config + weights bytes (or random seed) + pool + layers; the feature cache keys on it. */
  digest: string;
  device: 'cpu' | 'cuda';
  /** Frames per session.run. */
  chunk: number;
  /** Canonical pool spelling ("grid:2"). */
  pool: string;
  /** "all" or the 1-based block list, as given to --layers. */
  layersSpec: string;
  /** The weights file, when there is one. */
  weightsFile?: string;
  /** Seconds spent reading weights and creating the session. */
  loadSeconds: number;
  /**
   * Run N frames (from any number of clips) through the backbone in chunks of at most `chunk`;
   * returns [N,L,P,D] in input order. `frames` is either rgb24 bytes [N,S,S,3], already cropped
   * to S (normalised here with the config's mean and std, a chunk at a time), or float32 planes
   * [N,3,S,S] already normalised. Calls are queued, never run at once, so memory stays that of
   * one chunk.
   */
  forward(frames: Uint8Array | Float32Array, numFrames: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** Above this much fp32 weight, prepacking is off by default (see BackboneOptions.prepack). */
export const PREPACK_LIMIT_BYTES = 4 * 2 ** 30;

/** Frames per run when neither a chunk nor a budget is given: what fits half the memory, at most this. */
export const DEFAULT_MAX_CHUNK = 8;

type Ort = typeof import('onnxruntime-node');
let ortModule: Ort | undefined;

/** onnxruntime-node, loaded on first use (commands that do not run the backbone never pay for it). */
export async function loadOrt(): Promise<Ort> {
  if (!ortModule) {
    // onnxruntime 1.2x+ on Linux starts a telemetry client when it creates its environment, and
    // that client matches /proc/self/cmdline against a std::regex whose matcher recurses once
    // per character: a long command line (`losa classify dir/*.mp4` with a few hundred paths)
    // overflowed the stack of the thread that loads onnxruntime and killed losa with SIGSEGV.
    // losa sends nothing anywhere, so the telemetry is off unless the user asked for it.
    process.env.ORT_DISABLE_TELEMETRY ??= '1';
    const mod = (await import('onnxruntime-node')) as Ort & { default?: Ort };
    ortModule = mod.default ?? mod;
    // onnxruntime's own log would add lines to losa's one-line errors (a CUDA provider that
    // fails to load logs before it throws); the exception carries the message.
    ortModule.env.logLevel = 'fatal';
  }
  return ortModule;
}

/** The folder onnxruntime-node loads its native libraries from (for the CUDA provider check). */
function ortBinaryDir(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('onnxruntime-node');
  return path.join(path.dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

export const CUDA_INSTALL_HINT =
  'install it with `ONNXRUNTIME_NODE_INSTALL=true npm rebuild onnxruntime-node` (Linux x64, CUDA 12 and cuDNN 9)';

/** Resolve the chunk size from the options; throws when the budget cannot hold the weights. */
export function resolveChunk(config: BackboneConfig, chunk?: number, memoryBudget?: number): number {
  if (chunk !== undefined) {
    if (!Number.isSafeInteger(chunk) || chunk < 1) throw new LosaError(`chunk must be a positive integer, got ${chunk}`);
    return chunk;
  }
  if (memoryBudget !== undefined) {
    const fit = chunkForBudget(config, memoryBudget);
    if (fit < 1) {
      throw new LosaError(`${config.name ?? 'the backbone'} needs about ${formatBytes(fixedBytes(config))} before its first frame, more than the memory budget of ${formatBytes(memoryBudget)}`);
    }
    return fit;
  }
  return Math.max(1, Math.min(DEFAULT_MAX_CHUNK, chunkForBudget(config, os.totalmem() / 2)));
}

/** The options resolved and checked, with their defaults. */
export interface PreparedBackbone {
  config: BackboneConfig;
  name: string;
  pool: PoolSpec;
  layers: number[];
  device: 'cpu' | 'cuda';
  chunk: number;
  threads: number;
  seed: number;
  flavour: GraphFlavour;
  prepack: boolean;
}

/** The options resolved and checked, without reading a weight or creating a session. */
export function prepareBackbone(options: BackboneOptions): PreparedBackbone {
  const config = validateBackboneConfig(options.config, `backbone config ${options.config.name ?? ''}`.trim());
  const device = options.device ?? 'cpu';
  if (device === 'cuda' && !existsSync(path.join(ortBinaryDir(), process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'))) {
    throw new LosaError(`--device cuda: onnxruntime-node's CUDA provider is not installed in ${ortBinaryDir()}; ${CUDA_INSTALL_HINT}`);
  }
  return {
    config,
    name: config.name ?? 'vit',
    pool: parsePool(options.pool ?? DEFAULT_POOL, config),
    layers: parseLayers(options.layers ?? DEFAULT_LAYERS, config.depth),
    device,
    chunk: resolveChunk(config, options.chunk, options.memoryBudget),
    threads: options.threads ?? os.availableParallelism(),
    seed: options.seed ?? 0,
    flavour: options.flavour ?? 'fused',
    prepack: options.prepack ?? countBackboneParams(config) * 4 < PREPACK_LIMIT_BYTES,
  };
}

/**
 * Write the weights (from the file, or seeded random) and the graph into the writer's folder;
 * returns the model file and the weights' identity for the digest. A resampled position
 * embedding is part of that identity: how it was resampled changes the features.
 */
async function writeModel(writer: ExternalDataWriter, p: PreparedBackbone, weights: string | undefined): Promise<{ modelFile: string; weightsId: string }> {
  const blocks = p.layers[p.layers.length - 1]! + 1;
  const sink = (spec: { name: string }, data: Float32Array): Promise<void> => writer.add(spec.name, data);
  let weightsId: string;
  if (weights) {
    const loaded = await loadWeightsFile(weights, p.config, blocks, sink);
    weightsId = weightsIdentity(loaded);
  } else {
    await randomWeights(p.config, blocks, p.seed, sink);
    weightsId = `random:${p.seed}`;
  }
  const model = buildVitModel({ config: p.config, layers: p.layers, pool: p.pool, flavour: p.flavour, external: writer.refs });
  return { modelFile: await writer.finish(model), weightsId };
}

/** The weights' part of the digest: the bytes as read, and how the position embedding was resampled. */
export function weightsIdentity(loaded: LoadedWeights): string {
  return `sha256:${loaded.sha256}${loaded.resampled ? `;pos:${loaded.resampled}:${loaded.sourceGrid}` : ''}`;
}

/** What a Backbone tells of itself besides its session: all known before the session exists. */
export type BackboneFacts = Omit<Backbone, 'forward' | 'dispose' | 'loadSeconds'>;

export function backboneFacts(p: PreparedBackbone, options: BackboneOptions, weightsId: string): BackboneFacts {
  const poolText = poolName(p.pool);
  const layersText = layersName(p.layers, p.config.depth);
  return {
    config: p.config,
    name: p.name,
    layers: p.layers,
    tokens: pooledTokens(p.pool, p.config),
    width: p.config.width,
    params: countBackboneParams(p.config),
    randomWeights: !options.weights,
    digest: backboneDigest(canonicalConfigJson(p.config), weightsId, poolText, layersText),
    device: p.device,
    chunk: p.chunk,
    pool: poolText,
    layersSpec: layersText,
    ...(options.weights ? { weightsFile: options.weights } : {}),
  };
}

async function createSession(ort: Ort, modelFile: string, p: PreparedBackbone, extra?: InferenceSession.SessionOptions): Promise<InferenceSession> {
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: p.device === 'cuda' ? ['cuda'] : ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: p.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // With the memory pattern on, the second run allocates the planned block on top of what
    // the first run left in the arena (ViT-B/16, chunk 8: +70 MiB), so a long clip peaked
    // 20% above a short one. Off, the arena is reused and peak memory stays that of one chunk.
    enableMemPattern: false,
    logSeverityLevel: 3,
    extra: {
      session: {
        ...(p.prepack ? {} : { disable_prepacking: '1' }),
        // Decoders and the side network share the cores with the backbone: spinning threads
        // waiting for work would take their time (measured: an epoch ×0.7 faster without).
        ...(process.env.LOSA_ORT_SPIN === '1' ? {} : { 'intra_op.allow_spinning': '0' }),
      },
    },
    ...extra,
  };
  try {
    return await ort.InferenceSession.create(modelFile, sessionOptions);
  } catch (error) {
    throw new LosaError(p.device === 'cuda'
      ? `--device cuda: onnxruntime's CUDA provider could not start (${errorMessage(error)}); ${CUDA_INSTALL_HINT}`
      : `onnxruntime could not load the ${p.name} graph (${errorMessage(error)})`);
  }
}

/** forward() over a session: chunks of at most p.chunk frames, one call at a time. */
function runner(ort: Ort, session: InferenceSession, p: PreparedBackbone): { forward: Backbone['forward']; dispose: () => Promise<void> } {
  const P = pooledTokens(p.pool, p.config);
  const S = p.config.imageSize;
  const frameSize = 3 * S * S;
  const featureSize = p.layers.length * P * p.config.width;
  let queue: Promise<unknown> = Promise.resolve();
  let disposed = false;

  // One chunk of normalised planes, reused: rgb24 input is normalised a chunk at a time.
  let planes: Float32Array | undefined; // [chunk, 3, S, S]
  const chunkInput = (frames: Uint8Array | Float32Array, start: number, count: number): Float32Array => {
    if (frames instanceof Float32Array) return frames.subarray(start * frameSize, (start + count) * frameSize);
    planes ??= new Float32Array(p.chunk * frameSize);
    const rgb = frames.subarray(start * frameSize, (start + count) * frameSize);
    return normalizeFrames(rgb, count, S, p.config.mean, p.config.std, planes).subarray(0, count * frameSize);
  };

  const runAll = async (frames: Uint8Array | Float32Array, numFrames: number): Promise<Float32Array> => {
    if (disposed) throw new LosaError(`${p.name}: the backbone was disposed`);
    if (!Number.isSafeInteger(numFrames) || numFrames < 0 || frames.length !== numFrames * frameSize) {
      const layout = frames instanceof Uint8Array ? `rgb24 bytes for ${numFrames} frames of [${S}, ${S}, 3]` : `values for ${numFrames} frames of [3, ${S}, ${S}]`;
      throw new LosaError(`${p.name}: forward() got ${frames.length} ${layout} (${numFrames * frameSize} expected)`);
    }
    const out = new Float32Array(numFrames * featureSize); // [N, L, P, D]
    for (let start = 0; start < numFrames; start += p.chunk) {
      const count = Math.min(p.chunk, numFrames - start);
      const input = new ort.Tensor('float32', chunkInput(frames, start, count), [count, 3, S, S]);
      const result = await session.run({ frames: input });
      const features = result.features!;
      out.set(features.data as Float32Array, start * featureSize);
      features.dispose();
      input.dispose();
    }
    return out;
  };
  return {
    forward(frames, numFrames) {
      const run = queue.then(() => runAll(frames, numFrames));
      queue = run.catch(() => undefined);
      return run;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await queue;
      await session.release();
    },
  };
}

/** The backbone in this process: session.run blocks the event loop while it runs (see isolated.ts). */
export async function loadBackboneInProcess(options: BackboneOptions): Promise<Backbone> {
  const started = performance.now();
  const p = prepareBackbone(options);
  const ort = await loadOrt();
  const writer = await ExternalDataWriter.create(options.tmpDir);
  let session: InferenceSession;
  let weightsId: string;
  try {
    const written = await writeModel(writer, p, options.weights);
    weightsId = written.weightsId;
    session = await createSession(ort, written.modelFile, p, options.sessionOptions);
  } finally {
    await writer.remove();
  }
  return {
    ...backboneFacts(p, options, weightsId),
    loadSeconds: (performance.now() - started) / 1000,
    ...runner(ort, session, p),
  };
}
