// Failed sign-ins are counted per (account, address) and per account, never per address alone:
// one address is often everybody (a reverse proxy, or the embedded runner's loopback fetch).
import t from 'tap';
import { AuthFailureLimiter } from '../server/http/auth-failures.ts';
import { GitClient } from './helpers/git-client.ts';
import { manifest, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';
import { startServer } from './helpers/server.ts';

const MAX = 5;

t.test('the limiter: one source guessing, a distributed guess, and who is never refused', async (t) => {
  const limiter = new AuthFailureLimiter(MAX, 60_000);
  const now = 1_000_000;
  for (let i = 0; i < MAX; i++) limiter.recordFailure('alice', '10.0.0.1', now);
  t.ok(limiter.retryAfter('alice', '10.0.0.1', now) > 0, 'the guessing address is refused for alice');
  t.equal(limiter.retryAfter('ALICE', '10.0.0.1', now), 60, 'user names are case-insensitive; Retry-After is the window left');
  t.equal(limiter.retryAfter('bob', '10.0.0.1', now), 0, 'the same address may still sign in as bob');
  t.equal(limiter.retryAfter('alice', '10.0.0.2', now), 0, 'alice may still sign in from elsewhere');

  // Many addresses, one failure each: past max x 5 for the account, addresses that failed are refused...
  for (let i = 0; i < MAX * 5; i++) limiter.recordFailure('carol', `192.0.2.${i}`, now);
  t.ok(limiter.retryAfter('carol', '192.0.2.3', now) > 0, 'a distributed guess is refused at addresses that took part');
  t.equal(limiter.retryAfter('carol', '198.51.100.7', now), 0, '...and carol signing in from a clean address is not');
  t.equal(limiter.retryAfter('alice', '10.0.0.1', now + 60_001), 0, 'the window moves on');
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
