// Which TensorFlow.js backend trains the side network.
//
// Order: `tensorflow` (the native addon of @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node;
// both optional peers, loaded only when asked for because they are usually absent), else `wasm`
// (@tensorflow/tfjs-backend-wasm, an optional dependency; SIMD on, one thread in Node), else
// `cpu` (@tensorflow/tfjs-backend-cpu, plain JavaScript, always there, slow; loaded only when
// it is chosen, as it costs 5 MiB). LOSA_TF_BACKEND overrides 'auto'.
import { createRequire } from 'node:module';
import path from 'node:path';
import { requireBackendPackage, tf } from './tf.js';
import { LosaError } from '../errors.js';

export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';
export type TfBackendPreference = 'auto' | TfBackendName;

const BACKENDS: readonly TfBackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface TfHandle {
  tf: typeof tf;
  backend: TfBackendName;
}

/** One load attempt per backend per process: a failed import is not retried. */
const loaded = new Map<TfBackendName, Promise<boolean>>();
let quieted = false;

function quiet(): void {
  if (quieted) return;
  quieted = true;
  // Production mode drops per-op debug checks and the "install tfjs-node" banner that the cpu
  // backend prints on first use: the CLI already says which backend runs.
  tf.enableProdMode();
}

async function loadTensorflow(): Promise<boolean> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    // The addon registers the 'tensorflow' backend with the shared tfjs-core engine; not
    // installed, or its native library missing: try the next one.
    if (requireBackendPackage(pkg) === undefined) continue;
    try {
      if (tf.findBackendFactory('tensorflow') !== null && (await tf.setBackend('tensorflow'))) return true;
    } catch {
      // its native library failed at first use: try the next one
    }
  }
  return false;
}

async function loadWasm(): Promise<boolean> {
  const wasm = requireBackendPackage<typeof import('@tensorflow/tfjs-backend-wasm')>('@tensorflow/tfjs-backend-wasm');
  if (wasm === undefined) return false; // the optional dependency is not installed
  // (tf.findBackend would start initialising it; the engine's registry only lists live ones.)
  if (!('wasm' in tf.engine().registry)) {
    // Point tfjs at the package's own .wasm files (dist/), so loading works wherever this module
    // ends up (compiled, bundled, under a test runner); only possible before initialisation.
    try {
      const require = createRequire(import.meta.url);
      wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
    } catch {
      // already initialised elsewhere, or an unusual layout: tfjs's own default path remains
    }
  }
  try {
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

async function loadCpu(): Promise<boolean> {
  if (requireBackendPackage('@tensorflow/tfjs-backend-cpu') === undefined) return false;
  return await tf.setBackend('cpu');
}

async function load(name: TfBackendName): Promise<boolean> {
  let pending = loaded.get(name);
  if (pending === undefined) {
    pending = name === 'tensorflow' ? loadTensorflow() : name === 'wasm' ? loadWasm() : loadCpu();
    loaded.set(name, pending);
  }
  if (!(await pending)) return false;
  // Loaded once before; switching back to it is cheap.
  return tf.getBackend() === name || (await tf.setBackend(name));
}

function parsePreference(value: string, source: string): TfBackendPreference {
  if (value === 'auto' || (BACKENDS as readonly string[]).includes(value)) return value as TfBackendPreference;
  throw new LosaError(`${source}: unknown TensorFlow.js backend ${JSON.stringify(value)} (expected auto, tensorflow, wasm or cpu)`);
}

/**
 * Select and initialise the TensorFlow.js backend. Idempotent: calling it again with the same
 * preference returns the backend already chosen; an explicit different name switches to it.
 * With 'auto' (the default) the environment variable LOSA_TF_BACKEND, when set, decides.
 * An explicitly named backend that cannot load is an error; 'auto' falls back down the list.
 */
export async function initTf(preference: TfBackendPreference = 'auto'): Promise<TfHandle> {
  quiet();
  let wanted = parsePreference(preference, 'initTf');
  const fromEnv = process.env['LOSA_TF_BACKEND'];
  if (wanted === 'auto' && fromEnv !== undefined && fromEnv !== '') {
    wanted = parsePreference(fromEnv, 'LOSA_TF_BACKEND');
  }
  if (wanted !== 'auto') {
    if (!(await load(wanted))) {
      throw new LosaError(`TensorFlow.js backend "${wanted}" is not available (${installHint(wanted)})`);
    }
    return { tf, backend: wanted };
  }
  const current = tf.getBackend() as string | undefined;
  if (current !== undefined && chosenAuto !== undefined && current === chosenAuto) return { tf, backend: chosenAuto };
  for (const name of BACKENDS) {
    if (await load(name)) {
      chosenAuto = name;
      return { tf, backend: name };
    }
  }
  throw new LosaError('no TensorFlow.js backend could be initialised (not even cpu)');
}

let chosenAuto: TfBackendName | undefined;

/** The backend running now, or undefined before initTf. */
export function currentTfBackend(): TfBackendName | undefined {
  const name = tf.getBackend() as string | undefined;
  return (BACKENDS as readonly string[]).includes(name ?? '') ? (name as TfBackendName) : undefined;
}

function installHint(name: TfBackendName): string {
  if (name === 'tensorflow') return 'install @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node 4.22 with its native library';
  if (name === 'wasm') return 'install @tensorflow/tfjs-backend-wasm 4.22';
  return 'install @tensorflow/tfjs-backend-cpu 4.22';
}
