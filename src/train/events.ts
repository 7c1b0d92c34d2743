// Typed events: the only thing the training, evaluation and feature code tell the screen.
// The code that emits them knows nothing of terminals; renderers in src/ui/ (Ink dashboard,
// plain lines, NDJSON) only receive them.

/** What a run is, said once at its start (the dashboard's header). */
export interface RunInfo {
  command: 'train' | 'eval' | 'classify' | 'features';
  backbone: {
    name: string;
    /** Exact parameter count of the frozen backbone. */
    params: number;
    randomWeights: boolean;
    /** Weights file, when there is one. */
    weights?: string;
    device: string;
    chunk: number;
  };
  side?: {
    kind: 'losa' | 'linear';
    /** Trainable parameter count. */
    params: number;
    /** TensorFlow.js backend in use: tensorflow, wasm or cpu. */
    tfBackend: string;
  };
  data?: {
    root: string;
    classes: string[];
    trainClips: number;
    valClips: number;
    /** Files listed but missing, empty or of the wrong kind, found while listing. */
    missing: number;
    /** False when the run trains without validation (--no-val). */
    validation: boolean;
  };
  /** Which ffmpeg decodes the videos: `ffmpeg VERSION (source, path)`. */
  decoder?: string;
  epochs?: number;
  stepsPerEpoch?: number;
  batchSize?: number;
  numFrames: number;
  outDir?: string;
  cache?: string;
  /**
   * Set when the run resumed from a checkpoint: the epoch it resumes in (1-based), the steps of
   * that epoch already done, and the steps of the run already done.
   */
  resumedFrom?: { epoch: number; stepInEpoch: number; step: number };
}

/** Per-clip time split, in milliseconds (averaged over the clips of the last step or window). */
export interface TimeSplit {
  decodeMs: number;
  backboneMs: number;
  sideMs: number;
}

export interface MemoryUse {
  rssBytes: number;
  /** tf.memory().numTensors: live TensorFlow.js tensors. */
  tensors: number;
}

export interface EpochSummary {
  epoch: number;
  trainLoss: number;
  trainTop1: number;
  val?: { loss: number; top1: number; top5: number };
  seconds: number;
  /** Whether the epoch's features all came from the feature cache. */
  fromCache: boolean;
  lr: number;
  /** Whether this epoch is the best so far by validation top-1 (its checkpoint was kept). */
  best: boolean;
}

export type LosaEvent =
  | { type: 'start'; run: RunInfo }
  /** `fromCache`: whether the epoch's features are expected to come from the cache (its steps tell). */
  | { type: 'epoch-start'; epoch: number; epochs: number; steps: number; fromCache: boolean }
  | {
      type: 'step';
      epoch: number;
      /** Global optimiser step, counted from the run's start (resume keeps counting). */
      step: number;
      totalSteps: number;
      stepInEpoch: number;
      stepsInEpoch: number;
      loss: number;
      /** Training top-1 of the step's batch, a fraction. */
      accuracy: number;
      lr: number;
      clipsPerSecond: number;
      /** Whether every clip since the previous step event came from the feature cache. */
      fromCache: boolean;
      time: TimeSplit;
      memory: MemoryUse;
    }
  | { type: 'validate'; epoch: number; done: number; total: number }
  | { type: 'epoch-end'; summary: EpochSummary }
  | { type: 'skip'; path: string; reason: string; skipped: number }
  | { type: 'checkpoint'; path: string; kind: 'best' | 'last' }
  /** Generic progress of features, eval and classify over many inputs. */
  | { type: 'progress'; label: string; done: number; total: number }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | {
      type: 'end';
      status: 'done' | 'stopped' | 'failed';
      seconds: number;
      message?: string;
      bestTop1?: number;
      /** Files a user will want next: run directory, checkpoints, plots. */
      files: string[];
    };

export type EventSink = (event: LosaEvent) => void;
