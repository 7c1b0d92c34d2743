// A backbone that starts its onnxruntime session only when it is first asked for features.
// Everything else it tells (name, layers, tokens, width, chunk and the digest that keys the
// feature cache) is known from the config and the weights' bytes alone, so a run whose every
// clip is in the cache never builds the graph, starts the backbone's process or loads
// onnxruntime. The digest is computed by reading the weights exactly as loading does (same
// tensors, same order), so it is the digest the loaded backbone reports; the load checks that.
import { LosaError } from '../errors.js';
import { loadBackbone } from './isolated.js';
import { backboneFacts, prepareBackbone, weightsIdentity, type Backbone, type BackboneOptions } from './session.js';
import { loadWeightsFile } from './weights.js';

export interface LazyBackbone extends Backbone {
  /** Whether the session has been asked for (by a forward call or `load`). */
  readonly loaded: boolean;
  /** Starts the session now, if it is not started yet. */
  load(): Promise<Backbone>;
}

export interface LazyHooks {
  /** Called once, when the session is being started (before its first forward pass). */
  onLoad?(): void;
}

/** The weights' part of the backbone digest, without building a graph or a session. */
export async function weightsIdentityOf(options: BackboneOptions): Promise<string> {
  const p = prepareBackbone(options);
  if (!options.weights) return `random:${p.seed}`;
  const blocks = p.layers[p.layers.length - 1]! + 1;
  // The sink drops every tensor: only the hash of what was read is kept.
  return weightsIdentity(await loadWeightsFile(options.weights, p.config, blocks, async () => undefined));
}

/** The backbone's digest (config, weights, pooling, layers) without loading it. */
export async function backboneDigestOf(options: BackboneOptions): Promise<string> {
  return backboneFacts(prepareBackbone(options), options, await weightsIdentityOf(options)).digest;
}

export async function openLazyBackbone(options: BackboneOptions, hooks: LazyHooks = {}): Promise<LazyBackbone> {
  const facts = backboneFacts(prepareBackbone(options), options, await weightsIdentityOf(options));
  let loading: Promise<Backbone> | undefined;
  let ready: Backbone | undefined;
  let disposed = false;
  const load = (): Promise<Backbone> => {
    if (disposed) return Promise.reject(new LosaError(`${facts.name}: the backbone was disposed`));
    loading ??= (async () => {
      hooks.onLoad?.();
      const backbone = await loadBackbone(options);
      if (backbone.digest !== facts.digest) {
        await backbone.dispose();
        throw new LosaError(`${options.weights ?? facts.name}: the backbone's weights changed while losa was running (digest mismatch)`);
      }
      ready = backbone;
      return backbone;
    })();
    return loading;
  };
  return {
    ...facts,
    get loaded() {
      return loading !== undefined;
    },
    // Zero until loaded; then the seconds the session took to start.
    get loadSeconds() {
      return ready?.loadSeconds ?? 0;
    },
    load,
    async forward(frames, numFrames) {
      return (await load()).forward(frames, numFrames);
    },
    async dispose() {
      disposed = true;
      const backbone = await loading?.catch(() => undefined);
      await backbone?.dispose();
    },
  };
}
