// Failed sign-ins are counted per (account, address) and per account, never per address alone:
// one address is often everybody (a reverse proxy, or the embedded runner's loopback fetch).
import t from 'tap';
import { RedisAuthFailures } from '../server/adapters/redis/redis-auth-failures.ts';
import { MemoryAuthFailures, type AuthFailureLimiter } from '../server/http/auth-failures.ts';
import { GitClient } from './helpers/git-client.ts';
import { manifest, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';
import { startServer } from './helpers/server.ts';
import { cuttableProxy } from './helpers/tcp-proxy.ts';

const MAX = 5;

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const REDIS_URL = process.env.MLGIT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Where failures are counted: one process, or a Redis that two server nodes share (each node a limiter of its own). */
const STORES: { name: string; nodes: (t: TapTest) => Promise<[AuthFailureLimiter, AuthFailureLimiter]> }[] = [
  {
    name: 'in memory',
    nodes: async () => {
      const one = new MemoryAuthFailures(MAX, 60_000);
      return [one, one];
    },
  },
  {
    name: 'in Redis, two nodes',
    nodes: async (t) => {
      const prefix = `mlgit-auth-${process.pid}-${Date.now()}`;
      const node = async () => {
        const limiter = await RedisAuthFailures.connect({ redisUrl: REDIS_URL, prefix, max: MAX, windowMs: 60_000, fallback: new MemoryAuthFailures(MAX, 60_000), onError: (err) => t.fail(String(err)) });
        t.teardown(() => limiter.close());
        return limiter;
      };
      return [await node(), await node()];
    },
  },
];

for (const store of STORES) {
  t.test(`the limiter (${store.name}): one source guessing, a distributed guess, and who is never refused`, async (t) => {
    const [a, b] = await store.nodes(t);
    const now = Date.now();
    // Guesses alternate between the nodes: the count is the sum.
    for (let i = 0; i < MAX; i++) await (i % 2 ? a : b).recordFailure('alice', '10.0.0.1', now);
    t.ok((await a.retryAfter('alice', '10.0.0.1', now)) > 0, 'the guessing address is refused for alice');
    t.equal(await b.retryAfter('ALICE', '10.0.0.1', now), 60, 'user names are case-insensitive; Retry-After is the window left');
    t.equal(await a.retryAfter('bob', '10.0.0.1', now), 0, 'the same address may still sign in as bob');
    t.equal(await b.retryAfter('alice', '10.0.0.2', now), 0, 'alice may still sign in from elsewhere');

    // Many addresses, one failure each: past max x 5 for the account, addresses that failed are refused...
    for (let i = 0; i < MAX * 5; i++) await (i % 2 ? a : b).recordFailure('carol', `192.0.2.${i}`, now);
    t.ok((await a.retryAfter('carol', '192.0.2.3', now)) > 0, 'a distributed guess is refused at addresses that took part');
    t.equal(await b.retryAfter('carol', '198.51.100.7', now), 0, '...and carol signing in from a clean address is not');
    t.equal(await a.retryAfter('alice', '10.0.0.1', now + 60_001), 0, 'the window moves on');
  });
}

t.test('Redis unreachable: each node counts alone meanwhile, sign-ins do not wait', async (t) => {
  const upstream = new URL(REDIS_URL);
  const proxy = await cuttableProxy({ host: upstream.hostname, port: Number(upstream.port || 6379) });
  t.teardown(proxy.close);
  const errors: unknown[] = [];
  const fallback = new MemoryAuthFailures(MAX, 60_000);
  const limiter = await RedisAuthFailures.connect({ redisUrl: `redis://127.0.0.1:${proxy.port}`, prefix: `mlgit-auth-cut-${process.pid}-${Date.now()}`, max: MAX, windowMs: 60_000, fallback, onError: (err) => errors.push(err) });
  t.teardown(() => limiter.close());
  await limiter.recordFailure('dave', '10.0.0.9');
  proxy.cut();
  const started = Date.now();
  for (let i = 0; i < MAX; i++) await limiter.recordFailure('dave', '10.0.0.9');
  t.ok((await limiter.retryAfter('dave', '10.0.0.9')) > 0, 'guesses made during the outage are refused by the node that saw them');
  t.ok(Date.now() - started < 10_000, `${MAX + 1} calls during the outage took ${Date.now() - started} ms`);
  t.ok(errors.length > 0, 'the outage is reported');
  t.ok((await fallback.retryAfter('dave', '10.0.0.9')) > 0, 'the fallback holds them');
});

t.test('50 failed sign-ins from 127.0.0.1 stop neither other accounts, tokens, nor jobs', async (t) => {
  const server = await startRunsServer(t, { runtime: 'process' }, { config: { authFailures: { max: MAX, windowSeconds: 300 } } });
  const client = await GitClient.create(t);
  const [alice, bob] = await Promise.all([server.user('alice'), server.user('bob')]);
  for (let i = 0; i < 50; i++) {
    const login = await server.api('POST', '/api/v1/auth/login', { body: { username: 'alice', password: `guess-${i}` } });
    t.equal(login.status, i < MAX ? 401 : 429, `guess ${i}`);
  }
  t.equal((await server.api('GET', '/api/v1/user', { auth: alice.basic })).status, 429, "alice's password is refused from this address while it is under attack");
  t.equal((await server.api('GET', '/api/v1/user', { auth: alice.tokenBasic })).status, 200, "alice's token is not");

  const job = manifest('jobs:\n  hello:\n    kind: train\n    command: echo hello from the job > hello.txt && cat hello.txt\n    timeout: 1m\n');
  for (const [user, auth] of [[bob, bob.basic], [alice, alice.tokenBasic]] as const) {
    const { sha, push } = await pushProject(server, client, { username: user.username, basic: auth }, `after-attack-${user.username}`, { 'mlproject.yaml': job });
    t.equal(push.code, 0, `${user.username} pushes: ${push.stderr}`);
    const [run] = await waitForRuns(server, auth, `${user.username}/after-attack-${user.username}`, sha);
    // The job's checkout is a git fetch over loopback, like the failed logins.
    t.equal(run.status, 'success', `${user.username}'s job ran: ${run.message}`);
  }
});

t.test('X-Forwarded-For counts only from a configured proxy', async (t) => {
  const lenientMax = { authFailures: { max: MAX, windowSeconds: 300 } };
  const direct = await startServer(t, { config: lenientMax });
  const viaProxy = await startServer(t, { config: { ...lenientMax, trustedProxies: ['127.0.0.1/32', '::1'] } });
  for (const server of [direct, viaProxy]) await server.user('alice');
  const login = (server: typeof direct, client: string, password: string) =>
    server.api('POST', '/api/v1/auth/login', { body: { username: 'alice', password }, headers: { 'x-forwarded-for': client } });

  for (let i = 0; i < MAX; i++) t.equal((await login(direct, `203.0.113.${i}`, 'wrong')).status, 401);
  t.equal((await login(direct, '203.0.113.99', 'alice-password')).status, 429, 'without a trusted proxy the header is ignored: one client');

  for (let i = 0; i < MAX; i++) t.equal((await login(viaProxy, '203.0.113.1', 'wrong')).status, 401);
  t.equal((await login(viaProxy, '203.0.113.1', 'alice-password')).status, 429, 'behind the proxy, the guessing client is refused');
  t.equal((await login(viaProxy, '203.0.113.2', 'alice-password')).status, 200, 'and another client of the same proxy is not');
});
