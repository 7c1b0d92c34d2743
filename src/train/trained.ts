// Load a trained run for `eval` and `classify`: the same frozen backbone it was trained on
// (checked by digest) and its side network with the best (or last) weights.
import type * as tfjs from '@tensorflow/tfjs';
import path from 'node:path';
import { loadBackbone, type Backbone, type BackboneConfig } from '../backbone/index.js';
import { LosaError } from '../errors.js';
import { exists } from '../fsutil.js';
import { createSideNetwork, initTf, setSideWeights, type SideConfig, type SideNetwork } from '../side/index.js';
import { RUN_FILES, readCheckpoint, readManifest, type RunManifest } from './rundir.js';

export interface TrainedRun {
  runDir: string;
  manifest: RunManifest;
  backbone: Backbone;
  net: SideNetwork;
  tf: typeof tfjs;
  tfBackend: string;
  /** The weights file used (best.safetensors, else last.safetensors). */
  weightsFile: string;
  dispose(): Promise<void>;
}

export interface LoadRunOptions {
  device?: 'cpu' | 'cuda';
  chunk?: number;
  /** Backbone weights file, when it has moved since training (checked by digest). */
  weights?: string;
  which?: 'best' | 'last';
  tfBackend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
}

export async function loadTrainedRun(runDir: string, options: LoadRunOptions = {}): Promise<TrainedRun> {
  const manifest = await readManifest(runDir);
  const preferred = path.join(runDir, options.which === 'last' ? RUN_FILES.last : RUN_FILES.best);
  const fallback = path.join(runDir, RUN_FILES.last);
  const weightsFile = (await exists(preferred)) ? preferred : fallback;
  if (!(await exists(weightsFile))) throw new LosaError(`${runDir}: no trained weights (${RUN_FILES.best} or ${RUN_FILES.last})`);

  const weights = options.weights ?? manifest.backbone.weights ?? undefined;
  if (weights && !(await exists(weights))) {
    throw new LosaError(`${weights}: backbone weights of this run not found; pass --weights with their new place`);
  }
  const backbone = await loadBackbone({
    config: manifest.backbone.config as unknown as BackboneConfig,
    weights,
    pool: manifest.backbone.pool,
    layers: manifest.backbone.layers,
    device: options.device ?? 'cpu',
    chunk: options.chunk,
    seed: manifest.backbone.seed,
  });
  let net: SideNetwork | undefined;
  try {
    if (backbone.digest !== manifest.backbone.digest) {
      throw new LosaError(`${weights ?? 'random weights'}: this backbone differs from the one the run in ${runDir} was trained with (digest mismatch)`);
    }
    const { tf, backend } = await initTf(options.tfBackend ?? 'auto');
    net = createSideNetwork(manifest.side as unknown as SideConfig, 0);
    const { weights: tensors } = await readCheckpoint(weightsFile);
    setSideWeights(net, tensors);
    const loaded = net;
    return {
      runDir, manifest, backbone, net: loaded, tf, tfBackend: backend, weightsFile,
      dispose: async () => {
        loaded.dispose();
        await backbone.dispose();
      },
    };
  } catch (error) {
    net?.dispose();
    await backbone.dispose();
    throw error;
  }
}
