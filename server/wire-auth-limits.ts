// Part of the composition root (server/app.ts): where failed sign-ins are counted. With REDIS_URL
// every server node counts in the same Redis (a guesser gains nothing from spreading guesses over
// the nodes); without it, in this process.
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import { MemoryAuthFailures, type AuthFailureLimiter } from './http/auth-failures.ts';

export async function authFailureLimiter(app: FastifyInstance, config: Config): Promise<AuthFailureLimiter> {
  const { max, windowSeconds } = config.authFailures;
  const local = new MemoryAuthFailures(max, windowSeconds * 1000);
  if (!config.redisUrl) return local;
  const { RedisAuthFailures } = await import('./adapters/redis/redis-auth-failures.ts');
  let warned = 0;
  const shared = await RedisAuthFailures.connect({
    redisUrl: config.redisUrl,
    prefix: config.redisPrefix,
    max,
    windowMs: windowSeconds * 1000,
    fallback: local,
    // Once a minute at most: an outage fails every sign-in's lookup.
    onError: (err) => {
      if (Date.now() - warned < 60_000) return;
      warned = Date.now();
      app.log.warn({ err }, 'failed sign-ins cannot be counted in Redis; this node counts them alone meanwhile');
    },
  });
  app.addHook('onClose', async () => {
    await shared.close();
  });
  return shared;
}
