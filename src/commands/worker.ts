// `losa worker --redis URL`: take extraction jobs from the queue and write their features into
// the shared cache, until SIGTERM or Ctrl-C. Each (config, weights, pooling, layers) a job asks
// for is loaded once. Stopping finishes the jobs in progress (at most --grace seconds), hands
// back what is left to the queue for another worker, and exits 0.
import { UsageError } from '../errors.js';
import { DEFAULT_WORKERS } from '../features/pipeline.js';
import { REDIS_URL_ENV, parseRedisUrl } from '../extract/redis-url.js';
import { DEFAULT_GRACE_SECONDS, DEFAULT_STALL_SECONDS } from '../extract/settings.js';
import { DEVICE_OPTIONS } from './common.js';
import { defineCommand } from './command.js';
import { REDIS_OPTIONS } from './extract.js';
import { flag, int, type OptionTable } from './options.js';

const options = {
  ...REDIS_OPTIONS,
  concurrency: int({ value: 'N', min: 1, max: 256, help: 'jobs at once (each decodes with one ffmpeg; they share the backbone)', default: DEFAULT_WORKERS }),
  ...DEVICE_OPTIONS,
  threads: int({ value: 'N', min: 1, max: 1024, help: 'onnxruntime threads of the backbone', defaultText: 'all cores' }),
  stallSeconds: int({
    value: 'S', min: 1, max: 86_400, default: DEFAULT_STALL_SECONDS,
    help: 'a job whose worker gave no sign of life for this long (killed, machine lost) goes to another worker',
  }),
  grace: int({ value: 'S', min: 0, max: 86_400, default: DEFAULT_GRACE_SECONDS, help: 'on SIGTERM, seconds to finish the jobs in progress before handing them back' }),
  json: flag({ help: 'NDJSON lines instead of text' }),
} satisfies OptionTable;

export const command = defineCommand({
  name: 'worker',
  usage: 'losa worker --redis URL [--concurrency N] [--device cpu|cuda] [options]',
  description: `Takes feature-extraction jobs (queued by \`losa extract --redis URL\`) and writes each video's
features into the feature cache the job names, a folder this machine must mount at the same path
as the others. Runs until SIGTERM or Ctrl-C: the jobs in progress are finished (or, past --grace,
handed back to the queue), then it exits with status 0. A worker killed outright loses nothing:
its jobs go to another worker after --stall-seconds.`,
  options,
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])} (see \`losa worker --help\`)`);
    const { options: o } = args;
    const redisText = o.redis ?? process.env[REDIS_URL_ENV];
    if (!redisText) throw new UsageError(`Expected \`--redis\` (or $${REDIS_URL_ENV}) to be given, got nothing`);
    const target = parseRedisUrl(redisText, o.redis ? '--redis' : `$${REDIS_URL_ENV}`);
    const { serve } = await import('../extract/serve.js');
    // The first SIGTERM or Ctrl-C stops taking jobs and lets those in progress finish (at most
    // --grace seconds); a second hands them back at once.
    const stop = new AbortController();
    const stopNow = new AbortController();
    const onSignal = (): void => (stop.signal.aborted ? stopNow : stop).abort();
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      await serve({
        target, queue: o.queue, concurrency: o.concurrency, stallMs: o.stallSeconds * 1000, graceMs: o.grace * 1000,
        device: { device: o.device, chunk: o.chunk, threads: o.threads }, json: o.json,
        write: (line) => void io.stdout.write(line + '\n'), stop: stop.signal, stopNow: stopNow.signal,
      });
      return 0;
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  },
});
