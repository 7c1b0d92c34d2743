// One extraction job: a video's views through the feature pipeline into the shared cache. The
// same function runs in `losa worker` (a job from the queue) and in `losa extract` without
// Redis (a job from the plan), so both write the same entries. Entries are written as every
// cache entry is (temporary name, fsync, rename), so a worker killed mid-job leaves no half
// entry, only a temporary file, which the worker that redoes the job removes.
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { BackboneCrash, loadBackbone, type Backbone } from '../backbone/index.js';
import { errorMessage } from '../errors.js';
import { FeatureCache, featureBatches, isSkipped, viewCacheKey, type PipelineItem } from '../features/index.js';
import { removeTempsOf } from '../fsutil.js';
import type { BackboneSpec, ExtractJob } from './jobs.js';
import { PermanentJobError, ReturnJob } from './queue.js';

/** What a job reports when done. */
export interface JobResult {
  worker: string;
  file: string;
  /** Clips the job stands for, and those of them computed now (the others were in the cache). */
  clips: number;
  computed: number;
  /** Wall milliseconds the job took. */
  ms: number;
}

/** A name for this process among the workers: host and pid. */
export function workerName(): string {
  return `${hostname()}:${process.pid}`;
}

/** Where and how the backbones run on this machine. */
export interface DeviceSettings {
  device?: 'cpu' | 'cuda';
  chunk?: number;
  threads?: number;
}

/** Backbones held at once by one worker; asking for another disposes the least recently used idle one. */
const MAX_BACKBONES = 2;

/** The backbones a worker has loaded: each (config, weights, pooling, layers) once, by digest. */
export class BackbonePool {
  private readonly held = new Map<string, { backbone: Promise<Backbone>; users: number; used: number }>();
  private clock = 0;

  constructor(private readonly device: DeviceSettings, private readonly onLoad?: (spec: BackboneSpec) => void) {}

  /** Runs `use` with the spec's backbone, loading it the first time. */
  async with<T>(spec: BackboneSpec, use: (backbone: Backbone) => Promise<T>): Promise<T> {
    let entry = this.held.get(spec.digest);
    if (!entry) {
      await this.evict();
      entry = { backbone: this.load(spec), users: 0, used: 0 };
      this.held.set(spec.digest, entry);
    }
    entry.users++;
    entry.used = ++this.clock;
    try {
      return await use(await entry.backbone);
    } catch (error) {
      // A crashed or failed backbone is dropped: the next job loads it afresh.
      if (error instanceof BackboneCrash || !(await entry.backbone.then(() => true, () => false))) this.drop(spec.digest);
      throw error;
    } finally {
      entry.users--;
    }
  }

  private async load(spec: BackboneSpec): Promise<Backbone> {
    this.onLoad?.(spec);
    const backbone = await loadBackbone({ config: spec.config, weights: spec.weights, pool: spec.pool, layers: spec.layers, seed: spec.seed, ...this.device });
    if (backbone.digest !== spec.digest) {
      await backbone.dispose();
      throw new PermanentJobError(
        `${spec.weights ?? 'random weights'}: the backbone here differs from the one the job was planned with (is the weights file the same on every machine?)`,
      );
    }
    return backbone;
  }

  private drop(digest: string): void {
    const entry = this.held.get(digest);
    this.held.delete(digest);
    void entry?.backbone.then((b) => b.dispose(), () => undefined);
  }

  private async evict(): Promise<void> {
    const idle = [...this.held.entries()].filter(([, e]) => e.users === 0).sort((a, b) => a[1].used - b[1].used);
    while (this.held.size >= MAX_BACKBONES && idle.length > 0) {
      const [digest, entry] = idle.shift()!;
      this.held.delete(digest);
      await entry.backbone.then((b) => b.dispose(), () => undefined);
    }
  }

  async dispose(): Promise<void> {
    const entries = [...this.held.values()];
    this.held.clear();
    await Promise.all(entries.map((e) => e.backbone.then((b) => b.dispose(), () => undefined)));
  }
}

type ViewItem = PipelineItem & { view: number };

/**
 * Computes the job's missing entries into its cache. A video that cannot be read fails the job
 * for good (PermanentJobError); an abort hands the job back (ReturnJob).
 */
export async function runExtractJob(job: ExtractJob, pool: BackbonePool, signal: AbortSignal, worker: string): Promise<JobResult> {
  const started = performance.now();
  // A write that fails (a full disk, a read-only mount) fails the job, to be retried: a job that
  // completed without its entries would leave training to compute them.
  let writeFailure: string | undefined;
  const cache = new FeatureCache(job.cache.dir, job.backbone.digest, job.cache.dtype, { warn: (message) => { writeFailure ??= message; } });
  const items: ViewItem[] = job.views.map((_, view) => ({ path: job.file, label: -1, view }));
  let clips = 0;
  let computed = 0;
  await pool.with(job.backbone, async (backbone) => {
    // One decoder per job: a worker's jobs at once (--concurrency) are its ffmpeg processes.
    const batches = featureBatches(items, { backbone, batchSize: items.length, concurrency: 1, cache, plan: (item) => job.views[item.view]!, signal });
    for await (const result of batches) {
      if (isSkipped(result)) throw new PermanentJobError(result.reason.includes(job.file) ? result.reason : `${job.file}: ${result.reason}`);
      clips += result.items.length * result.views;
      computed += (result.items.length - result.cached) * result.views;
    }
  });
  if (writeFailure !== undefined) throw new Error(`${job.file}: ${writeFailure}`);
  if (signal.aborted) throw new ReturnJob(`${job.file}: handed back (${errorMessage(signal.reason ?? 'stopping')})`);
  // Temporary files of these entries left by a writer killed mid-write (this job's earlier try).
  for (const plan of job.views) await removeTempsOf(cache.entryPath(await viewCacheKey(cache, job.file, plan)));
  return { worker, file: job.file, clips, computed, ms: performance.now() - started };
}
