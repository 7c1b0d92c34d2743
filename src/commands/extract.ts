// `losa extract --data D --cache DIR [--redis URL]`: compute the feature cache a `losa train
// --cache DIR` with the same options will read, as one job per video, on any number of
// `losa worker` processes through a queue on Redis (or in this process without --redis), and
// follow the run until every job is done or failed.
import { performance } from 'node:perf_hooks';
import { UsageError } from '../errors.js';
import type { ExtractOptions } from '../extract/jobs.js';
import type { ExtractEvent } from '../extract/progress.js';
import { DEFAULT_QUEUE } from '../extract/settings.js';
import { REDIS_URL_ENV, parseRedisUrl } from '../extract/redis-url.js';
import { createExtractRenderer } from '../extract/render.js';
import { TRAIN_DEFAULTS } from '../train/options.js';
import { pickRenderMode } from '../ui/index.js';
import {
  CACHE_VIEW_OPTIONS, DEVICE_OPTIONS, RUN_SEED_OPTION, TRAIN_BACKBONE_OPTIONS, TRAIN_DATA_OPTIONS, TRAIN_SAMPLING_OPTIONS, WORKERS_HELP, WORKERS_OPTION, grouped,
} from './common.js';
import { defineCommand, type CommandArgs } from './command.js';
import { file, flag, text, type OptionTable } from './options.js';

/** The --redis option of extract and worker: the URL, else $LOSA_REDIS_URL. */
export const REDIS_OPTIONS = {
  redis: text({
    value: 'URL', help: 'Redis of the job queue: redis://[:password@]host[:port][/db], or rediss:// for TLS; the password is never printed',
    defaultText: `$${REDIS_URL_ENV}`,
  }),
  queue: text({ value: 'NAME', help: 'name of the job queue', default: DEFAULT_QUEUE }),
} satisfies OptionTable;

const options = {
  ...grouped('Data', TRAIN_DATA_OPTIONS),
  ...grouped('Backbone (frozen)', { ...TRAIN_BACKBONE_OPTIONS, ...DEVICE_OPTIONS }),
  ...grouped('Sampling (as `losa train` will be given)', { ...TRAIN_SAMPLING_OPTIONS, ...RUN_SEED_OPTION }),
  ...grouped('Cache', {
    cache: file({ value: 'DIR', help: 'the feature cache to fill (a folder every worker mounts at the same path)', required: true }),
    ...CACHE_VIEW_OPTIONS,
  }),
  ...grouped('Queue', {
    ...REDIS_OPTIONS,
    workers: { ...WORKERS_OPTION.workers, help: `${WORKERS_HELP} (without Redis: jobs at once in this process, one ffmpeg each)` },
  }),
  ...grouped('Output', {
    noTui: flag({ help: 'plain lines instead of the dashboard' }),
    json: flag({ help: 'NDJSON events instead of the dashboard' }),
  }),
} satisfies OptionTable;

export const command = defineCommand({
  name: 'extract',
  usage: 'losa extract --data SRC --cache DIR [--redis URL] [options]',
  description: `Computes the frozen backbone's features of a data set into a feature cache, so that
\`losa train --cache DIR\` with the same data, backbone and sampling options reads every clip from
it and never starts the backbone. With --redis (or $${REDIS_URL_ENV}), one job per video goes to a
queue on Redis for \`losa worker\` processes on any number of machines, and this command follows
them; without it, the same jobs run in this process.`,
  options,
  notes: `Running it again adds nothing that is done or queued: a video whose entries are all in the cache
is skipped, and a job's id is derived from its entries' cache keys. Exit status 1 when a job failed
(each failed video is listed at the end with its reason).`,
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])} (see \`losa extract --help\`)`);
    const { options: o } = args;
    const redisText = o.redis ?? process.env[REDIS_URL_ENV];
    const target = redisText ? parseRedisUrl(redisText, o.redis ? '--redis' : `$${REDIS_URL_ENV}`) : undefined;
    const mode = pickRenderMode({ isTTY: io.isTTY, noTui: o.noTui, json: o.json });
    const renderer = createExtractRenderer(mode, io);
    const controller = new AbortController();
    const onSigint = (): void => {
      if (controller.signal.aborted) process.exit(130);
      controller.abort();
    };
    process.on('SIGINT', onSigint);
    const { extract } = await import('../extract/run.js');
    try {
      const end = await extract(extractOptions(args), { target, queue: o.queue, workers: o.workers, device: { device: o.device, chunk: o.chunk } }, {
        emit: (event: ExtractEvent) => renderer.emit(event), signal: controller.signal, started: performance.now(),
      });
      return end.status === 'done' ? 0 : 1;
    } finally {
      process.off('SIGINT', onSigint);
      await renderer.close();
    }
  },
});

function extractOptions({ options: o }: CommandArgs<typeof options>): ExtractOptions {
  return {
    data: o.data, valData: o.valData, trainSplit: o.trainSplit, valSplit: o.valSplit, validation: !o.noVal,
    backbone: o.backbone, weights: o.weights, imageSize: o.imageSize, pool: o.pool, layers: o.layers, backboneSeed: o.backboneSeed,
    numFrames: o.numFrames, sampling: o.sampling, stride: o.stride, flip: o.flip, scale: o.cropScale, ratio: TRAIN_DEFAULTS.ratio,
    valViews: o.valViews, valCrops: o.valCrops, seed: o.seed,
    cache: o.cache, cacheViews: o.cacheViews, cacheDtype: o.cacheDtype === 'f16' ? 'F16' : 'F32', cacheMax: o.cacheMax,
  };
}
