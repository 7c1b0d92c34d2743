// What `losa extract` asks for: one job per video, holding everything a worker on another
// machine needs (the file, its views' sampling and seeds, the backbone, the cache folder), so
// that the entries it writes are exactly those `losa train --cache DIR` with the same options
// looks up. The views are training's own: its cached training views (view v of `--cache-views`,
// from src/train/views.ts) and validation's test view (src/model/view.ts), keyed as the feature
// pipeline keys them. A job's id is derived from its entries' cache keys, so enqueueing the same
// work twice adds nothing.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { backboneDigestOf, parseLayers, parsePool, pooledTokens, resolveBackbone, type BackboneConfig, type BackboneOptions } from '../backbone/index.js';
import { openDataset, type Dataset } from '../data/index.js';
import { LosaError, errorMessage } from '../errors.js';
import { DEFAULT_CACHE_MAX, readCacheSettings, scanCacheFolder, writeCacheSettings } from '../features/cache-folder.js';
import { FeatureCache, clipFeatureSize, viewCacheKey, type ViewPlan } from '../features/index.js';
import { formatBytes } from '../fsutil.js';
import { testPlan, validationSeed } from '../model/view.js';
import type { EventSink } from '../train/events.js';
import type { TrainOptions } from '../train/options.js';
import { openValidation } from '../train/data.js';
import { reportListing, type ListedSet } from '../train/listing.js';
import { RunLog } from '../train/log.js';
import { runSampling, trainingPlan } from '../train/views.js';

/** The backbone a job is computed with: what a worker loads, and the digest the keys were made with. */
export interface BackboneSpec {
  config: BackboneConfig;
  /** Absolute path of the weights (a file every worker can read), or none for seeded random weights. */
  weights?: string;
  pool: string;
  layers: string;
  seed: number;
  digest: string;
}

/** One job: the cache entries of one video. */
export interface ExtractJob {
  /** The video, as the data set names it (training's seeds include this name). */
  file: string;
  /** Its views: training's cached views, then validation's test view when it is a validation video. */
  views: ViewPlan[];
  backbone: BackboneSpec;
  cache: { dir: string; dtype: 'F32' | 'F16' };
}

export interface PlannedJob {
  id: string;
  data: ExtractJob;
  /** Clips the job stands for (a test view of V views × C crops is V·C clips). */
  clips: number;
}

/** The options of `losa train` that decide which cache entries it looks up. */
export type ExtractOptions = Pick<
  TrainOptions,
  | 'data' | 'valData' | 'trainSplit' | 'valSplit' | 'backbone' | 'weights' | 'imageSize' | 'pool' | 'layers' | 'backboneSeed'
  | 'numFrames' | 'sampling' | 'stride' | 'flip' | 'scale' | 'ratio' | 'valViews' | 'valCrops' | 'seed' | 'cacheViews' | 'cacheDtype'
  | 'validation' | 'cacheMax'
> & { cache: string };

export interface ExtractPlan {
  /** Jobs with at least one entry missing from the cache. */
  jobs: PlannedJob[];
  videos: number;
  /** Videos whose every entry is in the cache already. */
  cached: number;
  /** Clips of the jobs. */
  clips: number;
  /** Videos that could not be planned (unreadable), with the reason. */
  problems: { file: string; reason: string }[];
  backbone: { name: string; spec: BackboneSpec; options: BackboneOptions };
  cache: FeatureCache;
}

/** Files whose keys are computed at once (each reads 128 KiB of its video). */
const KEY_CONCURRENCY = 16;

export async function planExtraction(opts: ExtractOptions, emit: EventSink): Promise<ExtractPlan> {
  const resolved = await resolveBackbone(opts.backbone);
  const config: BackboneConfig = opts.imageSize ? { ...resolved.config, imageSize: opts.imageSize } : resolved.config;
  const options: BackboneOptions = { config, weights: opts.weights ?? resolved.weights, pool: opts.pool, layers: opts.layers, seed: opts.backboneSeed };
  const spec: BackboneSpec = {
    config, pool: opts.pool, layers: opts.layers, seed: opts.backboneSeed, digest: await backboneDigestOf(options),
    ...(options.weights ? { weights: options.weights } : {}),
  };
  const cache = new FeatureCache(opts.cache, spec.digest, opts.cacheDtype);
  const videos = videoViews(opts, ...(await openSets(opts, emit)), config.imageSize);
  const jobs: PlannedJob[] = [];
  const problems: ExtractPlan['problems'] = [];
  let cached = 0;
  const entries = [...videos];
  for (let i = 0; i < entries.length; i += KEY_CONCURRENCY) {
    const planned = await Promise.all(entries.slice(i, i + KEY_CONCURRENCY).map(([file, views]) => planJob(file, views, spec, cache)));
    // In data set order: the queue hands jobs out first in, first out.
    for (const p of planned) {
      if (p === 'cached') cached++;
      else if ('reason' in p) problems.push(p);
      else jobs.push(p);
    }
  }
  const clips = jobs.reduce((n, j) => n + j.clips, 0);
  const bytesPerClip = clipFeatureSize({ layers: parseLayers(opts.layers, config.depth), tokens: pooledTokens(parsePool(opts.pool, config), config), width: config.width }, opts.numFrames) * (opts.cacheDtype === 'F16' ? 2 : 4);
  await checkCacheRoom(opts, clips * bytesPerClip);
  return {
    jobs, videos: videos.size, cached, clips, problems, cache,
    backbone: { name: config.name ?? 'vit', spec, options },
  };
}

/** A video's job, or 'cached' when every entry is there, or why it cannot be planned. */
async function planJob(file: string, views: ViewPlan[], spec: BackboneSpec, cache: FeatureCache): Promise<PlannedJob | 'cached' | { file: string; reason: string }> {
  try {
    const keys = await Promise.all(views.map((plan) => viewCacheKey(cache, file, plan)));
    if ((await Promise.all(keys.map((k) => cache.has(k)))).every(Boolean)) return 'cached';
    const data: ExtractJob = { file, views, backbone: spec, cache: { dir: cache.dir, dtype: cache.dtype } };
    return { id: jobId(keys), data, clips: views.reduce((n, v) => n + clipsOf(v), 0) };
  } catch (error) {
    return { file, reason: errorMessage(error) };
  }
}

/** The log of what extraction's listing left out, in the cache folder (which nothing else writes it). */
export const EXTRACT_LOG = 'extract.log';

/**
 * The sets training will open (its validation set too, unless --no-val); what the listing could
 * not use is one line on screen and the whole list in the cache folder's extract.log.
 */
async function openSets(opts: ExtractOptions, emit: EventSink): Promise<[Dataset, Dataset | null]> {
  const trainSet = await openDataset(opts.data, { split: opts.trainSplit });
  const valSet = opts.validation ? await openValidation(opts, trainSet.classes) : null;
  const sets: ListedSet[] = [{ role: opts.trainSplit, set: trainSet }];
  if (valSet) sets.push({ role: opts.valSplit, set: valSet });
  const log = new RunLog(path.join(opts.cache, EXTRACT_LOG), (message) => emit({ type: 'log', level: 'warn', message }));
  await reportListing(sets, log, emit);
  return [trainSet, valSet];
}

/**
 * The folder's cap must hold what extraction writes, or its least recently used entries (this
 * extraction's own) would be evicted while it runs. A --cache-max given is recorded in the
 * folder, so every worker keeps it.
 */
async function checkCacheRoom(opts: ExtractOptions, plannedBytes: number): Promise<void> {
  if (opts.cacheMax !== undefined) await writeCacheSettings(opts.cache, { maxBytes: opts.cacheMax });
  const cap = opts.cacheMax ?? (await readCacheSettings(opts.cache)).maxBytes ?? DEFAULT_CACHE_MAX;
  const held = (await scanCacheFolder(opts.cache)).bytes;
  if (held + plannedBytes > cap) {
    throw new LosaError(
      `${opts.cache}: the extraction writes about ${formatBytes(plannedBytes)} into a cache folder holding ${formatBytes(held)} with a cap of ` +
      `${formatBytes(cap)}; pass --cache-max SIZE (at least ${formatBytes(held + plannedBytes)}) so that no entry is evicted before training reads it`,
    );
  }
}

/** Every video with the views training will look up in the cache, in data set order. */
function videoViews(opts: ExtractOptions, trainSet: Dataset, valSet: Dataset | null, imageSize: number): Map<string, ViewPlan[]> {
  const sampling = runSampling(opts, imageSize);
  const out = new Map<string, ViewPlan[]>();
  const add = (file: string, plan: ViewPlan): void => {
    const views = out.get(file) ?? [];
    if (!views.some((v) => v.seed === plan.seed && JSON.stringify(v.clip) === JSON.stringify(plan.clip))) views.push(plan);
    out.set(file, views);
  };
  for (const item of trainSet.items) {
    for (let view = 0; view < opts.cacheViews; view++) add(item.path, trainingPlan({ ...sampling, seed: opts.seed }, item.path, view));
  }
  const val = testPlan(sampling, { views: opts.valViews, crops: opts.valCrops }, validationSeed(opts.seed));
  for (const item of valSet?.items ?? []) add(item.path, val);
  return out;
}

/** A job's id from its entries' keys: hex, so never the ':' BullMQ refuses in ids. */
export function jobId(keys: string[]): string {
  return createHash('sha256').update([...keys].sort().join('\n')).digest('hex');
}

/** Clips a view stands for. */
export function clipsOf(plan: ViewPlan): number {
  return plan.clip.mode === 'test' ? (plan.clip.views ?? 1) * (plan.clip.crops ?? 1) : 1;
}
