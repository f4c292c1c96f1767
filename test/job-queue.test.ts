import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { BullMqQueue } from '../server/adapters/queue/bullmq-queue.ts';
import { InProcessQueue } from '../server/adapters/queue/in-process-queue.ts';
import { jobQueueContract } from './helpers/job-queue-contract.ts';

/** The Redis server tests run against (CI starts it); each queue gets a key prefix of its own. */
const TEST_REDIS_URL = process.env.MLGIT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

t.test('InProcessQueue', async (t) => {
  jobQueueContract(t, async (onError) => new InProcessQueue(onError));
});

t.test('BullMqQueue', async (t) => {
  const prefixes: string[] = [];
  t.teardown(async () => {
    // Keys a test leaves behind (delayed jobs after close, failed jobs kept a day, metadata).
    const redis = new Redis(TEST_REDIS_URL);
    for (const prefix of prefixes) {
      for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 })) {
        if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
      }
    }
    await redis.quit();
  });
  jobQueueContract(t, async (onError) => {
    const prefix = `mlgit-test-${randomBytes(6).toString('hex')}`;
    prefixes.push(prefix);
    return new BullMqQueue({ redisUrl: TEST_REDIS_URL, prefix, onError });
  });
});

t.test('BullMqQueue with Redis down: readiness says unreachable within its timeout', async (t) => {
  const queue = new BullMqQueue({ redisUrl: 'redis://127.0.0.1:1', prefix: 'mlgit-test-down', onError: () => {} });
  t.teardown(() => void queue.close().catch(() => {}));
  const started = Date.now();
  t.equal(await queue.reachable(500), false);
  t.ok(Date.now() - started < 2000, 'answered in time');
});
