// JobQueue.follow hears every event written once it has returned. BullMQ's QueueEvents reports
// ready before it issues its first read of the events stream, and a read from '$' misses what
// was written in between: a worker that took the first job at once went unheard, so
// `losa extract` never showed that job as active (and its queue test failed now and then under
// load). The event here is written the moment follow() returns, when that first read has
// usually not been issued yet.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { JobQueue } from '../src/extract/queue.js';
import { parseRedisUrl } from '../src/extract/redis-url.js';
import { startRedis, type RedisServer } from './redis-server.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);

afterAll(async () => {
  await redis?.remove();
});

it('hears a job event written the moment follow() returns', async () => {
  const target = parseRedisUrl(redis.url);
  const queue = await JobQueue.open(target, 'follow', () => undefined);
  const writer = new Redis({ ...target.options });
  try {
    for (let round = 0; round < 5; round++) {
      const heard: string[] = [];
      const ignore = (): void => undefined;
      const stop = await queue.follow({ progress: (id) => heard.push(id), completed: ignore, failed: ignore, stalled: ignore }, ignore);
      // What a worker's first progress report writes (BullMQ's default key prefix is "bull").
      await writer.xadd('bull:follow:events', '*', 'event', 'progress', 'jobId', `job-${round}`, 'data', '{}');
      for (let waited = 0; heard.length === 0 && waited < 3000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      await stop();
      expect(heard, `round ${round}`).toEqual([`job-${round}`]);
    }
  } finally {
    writer.disconnect();
    await queue.close();
  }
});
