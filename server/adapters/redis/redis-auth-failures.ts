import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { failureKeys, retryAfterSeconds, type AuthFailureLimiter, type FailureRule, type WindowCount } from '../../domain/auth-failures.ts';

/** A command Redis does not answer within this fails, and the node falls back to its own counts. */
const COMMAND_TIMEOUT_MS = 1000;

export interface RedisAuthFailuresOptions {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly max: number;
  readonly windowMs: number;
  /** Counts kept by this node alone, used while Redis cannot be reached. */
  readonly fallback: AuthFailureLimiter;
  readonly onError: (err: unknown) => void;
}

/**
 * Failed sign-ins in Redis, one sorted set of failure times per key, so every server node on the
 * same Redis counts the same guesses. While Redis is away a node counts on its own (the fallback):
 * guesses stay limited per node rather than unlimited, and sign-ins do not wait on Redis.
 */
export class RedisAuthFailures implements AuthFailureLimiter {
  private readonly rule: FailureRule;

  private constructor(
    private readonly redis: Redis,
    private readonly options: RedisAuthFailuresOptions,
  ) {
    this.rule = { max: options.max, windowMs: options.windowMs };
  }

  static async connect(options: RedisAuthFailuresOptions): Promise<RedisAuthFailures> {
    // Loaded here: ioredis comes with REDIS_URL only (the embedded default never loads it).
    const { Redis } = await import('ioredis');
    const redis = new Redis(options.redisUrl, {
      keyPrefix: `${options.prefix}:auth-failures:`,
      // Fail now rather than queue commands while disconnected: the fallback answers instead.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      lazyConnect: true,
    });
    redis.on('error', options.onError);
    await redis.connect().catch(options.onError);
    return new RedisAuthFailures(redis, options);
  }

  async retryAfter(account: string, address: string, now = Date.now()): Promise<number> {
    const keys = failureKeys(account, address);
    try {
      const [own, all] = await this.counts([keys.pair, keys.account], now);
      return retryAfterSeconds(this.rule, own!, all!, now);
    } catch (err) {
      this.options.onError(err);
      return this.options.fallback.retryAfter(account, address, now);
    }
  }

  async recordFailure(account: string, address: string, now = Date.now()): Promise<void> {
    const keys = failureKeys(account, address);
    const member = `${now}:${randomBytes(6).toString('hex')}`;
    const multi = this.redis.multi();
    for (const key of [keys.pair, keys.account]) {
      multi.zadd(key, now, member).zremrangebyscore(key, '-inf', now - this.rule.windowMs).pexpire(key, this.rule.windowMs);
    }
    try {
      await multi.exec();
    } catch (err) {
      this.options.onError(err);
      await this.options.fallback.recordFailure(account, address, now);
    }
  }

  close(): Promise<unknown> {
    return this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Per key: the failures inside the window and the oldest of them (old ones dropped first). */
  private async counts(keys: string[], now: number): Promise<WindowCount[]> {
    const multi = this.redis.multi();
    for (const key of keys) multi.zremrangebyscore(key, '-inf', now - this.rule.windowMs).zcard(key).zrange(key, '0', '0', 'WITHSCORES');
    const replies = (await multi.exec()) ?? [];
    return keys.map((_, i) => {
      const [cardErr, count] = replies[i * 3 + 1]!;
      const [rangeErr, oldest] = replies[i * 3 + 2]!;
      if (cardErr || rangeErr) throw cardErr ?? rangeErr;
      return { count: Number(count), oldest: Number((oldest as string[])[1] ?? now) };
    });
  }
}
