import t from 'tap';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../server/config.ts';
import { GitClient } from './helpers/git-client.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { verifySignature, waitFor, WebhookReceiver } from './helpers/webhook-receiver.ts';

/** The Redis server tests run against (CI starts it); each server gets a key prefix of its own. */
const TEST_REDIS_URL = process.env.MLGIT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 'it is a secret to everybody';
const ZERO = '0'.repeat(40);

/** Retries in milliseconds instead of minutes; the loopback receiver is allow-listed. */
function webhookConfig(overrides: Partial<Config['webhooks']> = {}): Config['webhooks'] {
  return { ...loadConfig({}).webhooks, allow: ['127.0.0.1'], backoffBaseMs: 100, backoffMaxMs: 2000, maxAttempts: 4, timeoutMs: 600, disableAfter: 3, ...overrides };
}

type Queue = 'in-process' | 'bullmq';

async function setup(t: { teardown(fn: () => unknown): void }, queue: Queue, prefixes: string[]) {
  let queueConfig: Partial<Config> = {};
  if (queue === 'bullmq') {
    const prefix = `mlgit-test-${randomBytes(6).toString('hex')}`;
    prefixes.push(prefix);
    queueConfig = { redisUrl: TEST_REDIS_URL, redisPrefix: prefix };
  }
  const server = await startServer(t, { config: { ...queueConfig, webhooks: webhookConfig() } });
  const alice = await server.user(`alice${randomBytes(3).toString('hex')}`);
  return { server, alice };
}

async function createRepo(server: TestServer, auth: string, name: string) {
  const created = await server.api('POST', '/api/v1/repos', { auth, body: { name } });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return created.body;
}

async function createHook(server: TestServer, auth: string, repo: string, body: Record<string, unknown>) {
  const created = await server.api('POST', `/api/v1/repos/${repo}/hooks`, { auth, body });
  if (created.status !== 201) throw new Error(`${created.status} ${JSON.stringify(created.body)}`);
  return created.body;
}

async function deliveries(server: TestServer, auth: string, repo: string, hookId: number) {
  return (await server.api('GET', `/api/v1/repos/${repo}/hooks/${hookId}/deliveries?per_page=100`, { auth })).body as any[];
}

async function finished(server: TestServer, auth: string, repo: string, hookId: number, count: number) {
  return waitFor(async () => {
    const list = await deliveries(server, auth, repo, hookId);
    return list.length >= count && list.every((d) => d.status !== 'pending') ? list : null;
  }, 20_000, `${count} finished deliveries`);
}

function suite(queue: Queue, prefixes: string[]) {
  t.test(`webhooks on the ${queue} queue`, async (t) => {
    const { server, alice } = await setup(t, queue, prefixes);
    const receiver = await WebhookReceiver.start(t);
    const auth = alice.basic;
    const repo = `${alice.username}/models`;
    await createRepo(server, auth, 'models');

    await t.test('create: ping signed with the secret, secret stored encrypted and never returned', async (t) => {
      const hook = await createHook(server, auth, repo, { url: receiver.url, secret: SECRET, events: ['push', 'ping'] });
      t.notOk('secret' in hook, 'no secret in the answer');
      t.equal(hook.has_secret, true);
      t.same(hook.events, ['push', 'ping']);
      const [ping] = await waitFor(() => (receiver.ofEvent('ping').length ? receiver.ofEvent('ping') : null));
      t.ok(verifySignature(SECRET, ping!.body, ping!.headers['x-hub-signature-256']), 'X-Hub-Signature-256 verifies with the secret');
      t.notOk(verifySignature('wrong secret', ping!.body, ping!.headers['x-hub-signature-256']), 'and not with another');
      t.match(ping!.headers['user-agent'], /^mlgit-hookshot\/\d+\.\d+\.\d+$/);
      t.match(ping!.headers['x-mlgit-delivery'], /^[0-9a-f-]{36}$/);
      t.equal(ping!.headers['content-type'], 'application/json');
      t.equal(ping!.json.hook_id, hook.id);
      t.equal(ping!.json.repository.full_name, repo);
      t.equal(ping!.json.sender.login, alice.username);

      const stored = await sql<{ secret_enc: string }>`select secret_enc from webhooks where id = ${hook.id}`.execute(server.services.db);
      t.match(stored.rows[0]!.secret_enc, /^v1\./);
      t.notOk(stored.rows[0]!.secret_enc.includes(SECRET), 'the database does not hold the secret in clear');

      const listed = await server.api('GET', `/api/v1/repos/${repo}/hooks`, { auth });
      t.equal(listed.status, 200);
      t.notOk(JSON.stringify(listed.body).includes(SECRET));
      t.equal(listed.headers.get('x-total-count'), '1');
      const etag = listed.headers.get('etag');
      t.ok(etag);
      const again = await server.api('GET', `/api/v1/repos/${repo}/hooks`, { auth, headers: { 'if-none-match': etag! } });
      t.equal(again.status, 304, 'unchanged list answers 304 to its ETag');

      const log = await finished(server, auth, repo, hook.id, 1);
      t.equal(log[0].status, 'delivered');
      t.equal(log[0].attempts, 1);
      const full = await server.api('GET', `/api/v1/repos/${repo}/hooks/${hook.id}/deliveries/${log[0].id}`, { auth });
      t.equal(full.body.request.body, ping!.body, 'the log keeps the exact request body');
      t.equal(full.body.request.headers['X-Mlgit-Event'], 'ping');
      t.equal(full.body.response.status, 200);
      t.equal(full.body.response.body, 'ok');
      await server.api('DELETE', `/api/v1/repos/${repo}/hooks/${hook.id}`, { auth });
    });

    await t.test('push: GitHub-shaped payload with the real commits of a real push', async (t) => {
      receiver.received.length = 0;
      const hook = await createHook(server, auth, repo, { url: receiver.url, secret: SECRET, events: ['push'] });
      const git = await GitClient.create(t);
      const work = await git.workRepo('work', [{ 'a.txt': 'one\n' }, { 'b.txt': 'two\n' }]);
      await git.ok(['remote', 'add', 'origin', server.gitUrl(alice.username, 'models', alice.tokenBasic)], { cwd: work });
      await git.ok(['push', 'origin', 'main'], { cwd: work });
      const first = (await git.ok(['rev-parse', 'HEAD'], { cwd: work })).trim();
      const [push1] = await waitFor(() => (receiver.ofEvent('push').length ? receiver.ofEvent('push') : null));
      const p = push1!.json;
      t.ok(verifySignature(SECRET, push1!.body, push1!.headers['x-hub-signature-256']));
      t.equal(p.ref, 'refs/heads/main');
      t.equal(p.before, ZERO);
      t.equal(p.after, first);
      t.equal(p.created, true);
      t.same(p.commits.map((c: any) => c.message.trim()), ['commit 1', 'commit 2'], 'commits oldest first');
      t.equal(p.commits[1].id, first);
      t.same(p.commits[0].author, { name: 'Test User', email: 'test@example.com' });
      t.match(p.commits[1].url, new RegExp(`/${repo}/commit/${first}$`));
      t.equal(p.head_commit.id, first);
      t.same(p.pusher, { name: alice.username, email: null });
      t.equal(p.sender.login, alice.username);
      t.equal(p.repository.full_name, repo);
      t.match(p.repository.clone_url, new RegExp(`/${repo}\\.git$`));

      const second = await git.commit(work, { 'c.txt': 'three\n' }, 'add c');
      await git.ok(['push', 'origin', 'main'], { cwd: work });
      await waitFor(() => receiver.ofEvent('push').length >= 2);
      const p2 = receiver.ofEvent('push')[1]!.json;
      t.equal(p2.before, first);
      t.equal(p2.after, second);
      t.equal(p2.created, false);
      t.same(p2.commits.map((c: any) => c.id), [second], 'only the commit this push added');
      await server.api('DELETE', `/api/v1/repos/${repo}/hooks/${hook.id}`, { auth });
    });

    await t.test('fails then recovers: retried with backoff, same delivery id, delivered once', async (t) => {
      receiver.received.length = 0;
      receiver.answer = (i) => (i < 2 ? { status: 503 } : i === 2 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 });
      const hook = await createHook(server, auth, repo, { url: receiver.url, events: ['ping'] });
      const log = await finished(server, auth, repo, hook.id, 1);
      t.equal(log[0].status, 'delivered');
      t.equal(log[0].attempts, 4);
      await new Promise((resolve) => setTimeout(resolve, 500)); // nothing more may arrive
      t.equal(receiver.received.length, 4, 'four attempts, no duplicate after success');
      t.equal(new Set(receiver.received.map((r) => r.headers['x-mlgit-delivery'])).size, 1, 'one delivery id across retries');
      t.equal(new Set(receiver.received.map((r) => r.body)).size, 1, 'the same body each time');
      const gaps = receiver.received.slice(1).map((r, i) => r.at - receiver.received[i]!.at);
      t.ok(gaps[0]! >= 40, `first retry after backoff (${gaps[0]} ms)`);
      t.ok(gaps[2]! >= 950, `Retry-After: 1 honoured (${gaps[2]} ms)`);
      receiver.answer = () => ({ status: 200 });
      await server.api('DELETE', `/api/v1/repos/${repo}/hooks/${hook.id}`, { auth });
    });

    await t.test('other 4xx: not retried; three failed deliveries in a row disable the hook', async (t) => {
      receiver.received.length = 0;
      receiver.answer = () => ({ status: 410, body: 'gone' });
      const hook = await createHook(server, auth, repo, { url: receiver.url, events: ['ping', 'status'] });
      await finished(server, auth, repo, hook.id, 1);
      t.equal(receiver.received.length, 1, '410 is final');
      const sha = (await server.api('GET', `/api/v1/repos/${repo}/commits?limit=1`, { auth })).body[0].sha;
      for (const state of ['pending', 'success']) {
        const posted = await server.api('POST', `/api/v1/repos/${repo}/statuses/${sha}`, { auth, body: { state, context: 'ci' } });
        t.equal(posted.status, 201);
        await finished(server, auth, repo, hook.id, state === 'pending' ? 2 : 3);
      }
      const disabled = (await server.api('GET', `/api/v1/repos/${repo}/hooks/${hook.id}`, { auth })).body;
      t.equal(disabled.active, false);
      t.equal(disabled.consecutive_failures, 3);
      t.match(disabled.disabled_reason, /disabled after 3 consecutive failed deliveries; last: receiver answered 410/);
      await server.api('POST', `/api/v1/repos/${repo}/statuses/${sha}`, { auth, body: { state: 'failure', context: 'ci' } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      t.equal(receiver.received.length, 3, 'a disabled hook gets nothing');
      const enabled = await server.api('PATCH', `/api/v1/repos/${repo}/hooks/${hook.id}`, { auth, body: { active: true } });
      t.equal(enabled.body.active, true);
      t.equal(enabled.body.disabled_reason, null);
      t.equal(enabled.body.consecutive_failures, 0);
      receiver.answer = () => ({ status: 200 });
      await server.api('DELETE', `/api/v1/repos/${repo}/hooks/${hook.id}`, { auth });
    });

    await t.test('receiver down for the whole retry window: failed, then redelivered', async (t) => {
      const down = await WebhookReceiver.start(t);
      const downUrl = down.url;
      await down.close();
      const hook = await createHook(server, auth, repo, { url: downUrl, secret: SECRET, events: ['ping'] });
      const [failed] = await finished(server, auth, repo, hook.id, 1);
      t.equal(failed.status, 'failed');
      t.equal(failed.attempts, 4, 'every attempt used');
      t.match(failed.error, /ECONNREFUSED/);
      receiver.received.length = 0;
      await server.api('PATCH', `/api/v1/repos/${repo}/hooks/${hook.id}`, { auth, body: { url: receiver.url } });
      const redelivered = await server.api('POST', `/api/v1/repos/${repo}/hooks/${hook.id}/deliveries/${failed.id}/redeliver`, { auth });
      t.equal(redelivered.status, 202);
      t.equal(redelivered.body.redelivery_of, failed.id);
      await waitFor(() => receiver.received.length === 1);
      const original = await server.api('GET', `/api/v1/repos/${repo}/hooks/${hook.id}/deliveries/${failed.id}`, { auth });
      t.equal(receiver.received[0]!.body, original.body.request.body, 'the same payload');
      t.equal(receiver.received[0]!.headers['x-mlgit-delivery'], redelivered.body.id, 'under the new delivery id');
      t.ok(verifySignature(SECRET, receiver.received[0]!.body, receiver.received[0]!.headers['x-hub-signature-256']));
      const log = await finished(server, auth, repo, hook.id, 2);
      t.same(log.map((d) => d.status).sort(), ['delivered', 'failed']);
      const missing = await server.api('POST', `/api/v1/repos/${repo}/hooks/${hook.id}/deliveries/00000000-0000-4000-8000-000000000000/redeliver`, { auth });
      t.equal(missing.status, 404);
      await server.api('DELETE', `/api/v1/repos/${repo}/hooks/${hook.id}`, { auth });
    });

    await t.test('slow receiver: the attempt times out and is retried', async (t) => {
      const slow = await WebhookReceiver.start(t);
      slow.answer = (i) => (i === 0 ? { status: 200, delayMs: 3000 } : { status: 200 });
      const hook = await createHook(server, auth, repo, { url: slow.url, events: ['ping'] });
      const [done] = await finished(server, auth, repo, hook.id, 1);
      t.equal(done.status, 'delivered');
      t.equal(done.attempts, 2, 'the first attempt timed out');
      t.equal(slow.received.length, 2);
      await server.api('DELETE', `/api/v1/repos/${repo}/hooks/${hook.id}`, { auth });
    });

    await t.test('a redirect is not followed', async (t) => {
      const redirecting = await WebhookReceiver.start(t);
      redirecting.answer = () => ({ status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data/' } });
      const hook = await createHook(server, auth, repo, { url: redirecting.url, events: ['ping'] });
      const [done] = await finished(server, auth, repo, hook.id, 1);
      t.equal(done.status, 'failed');
      t.match(done.error, /302 \(redirects are not followed\)/);
      t.equal(redirecting.received.length, 1, 'no retry');
      await server.api('DELETE', `/api/v1/repos/${repo}/hooks/${hook.id}`, { auth });
    });

    await t.test('hooks need admin access to the repo; bad input is refused with a message', async (t) => {
      const bob = await server.user(`bob${randomBytes(3).toString('hex')}`);
      const other = await server.api('POST', `/api/v1/repos/${repo}/hooks`, { auth: bob.basic, body: { url: receiver.url } });
      t.equal(other.status, 403);
      const anonymous = await server.api('GET', `/api/v1/repos/${repo}/hooks`);
      t.equal(anonymous.status, 401);
      for (const [body, message] of [
        [{ url: 'ftp://example.com/' }, /http or https/],
        [{ url: 'not a url' }, /not a valid URL/],
        [{ url: 'http://user:pw@127.0.0.1/' }, /credentials/],
        [{ url: receiver.url, events: ['nope'] }, /events/],
        [{ url: receiver.url, events: [] }, /events/],
        [{ url: receiver.url, secret: 'x'.repeat(300) }, /secret/],
        [{ url: receiver.url, content_type: 'form' }, /content_type/],
        [{ events: ['push'] }, /url/],
      ] as const) {
        const refused = await server.api('POST', `/api/v1/repos/${repo}/hooks`, { auth, body });
        t.equal(refused.status, 422, JSON.stringify(body));
        t.match(refused.body.error.message, message);
      }
      t.equal((await server.api('GET', `/api/v1/repos/${repo}/hooks/999999`, { auth })).status, 404);
      t.equal((await server.api('GET', `/api/v1/repos/${repo}/hooks/abc`, { auth })).status, 422);
    });

    await t.test('a delivery whose job was lost (crash, restart) is recovered, once', async (t) => {
      receiver.received.length = 0;
      const hook = await createHook(server, auth, repo, { url: receiver.url, events: ['push'] });
      const id = '11111111-2222-4333-8444-555555555555';
      await sql`insert into webhook_deliveries (id, hook_id, repo_id, event, url, request_body, created_at)
                values (${id}, ${hook.id}, null, 'push', ${receiver.url}, '{"lost":true}', now() - interval '10 minutes')`.execute(server.services.db);
      t.equal(await server.services.webhooks.recoverStalled(), 1);
      t.equal(await server.services.webhooks.recoverStalled(), 1, 'a second sweep before it ran enqueues again...');
      const recovered = () => receiver.received.filter((r) => r.headers['x-mlgit-delivery'] === id);
      await waitFor(() => recovered().length >= 1);
      await server.services.queue.drain();
      await new Promise((resolve) => setTimeout(resolve, 300));
      t.equal(recovered().length, 1, '...but it is delivered once');
      t.same(recovered()[0]!.json, { lost: true });
      t.equal(await server.services.webhooks.recoverStalled(), 0, 'nothing left to recover');
      await server.api('DELETE', `/api/v1/repos/${repo}/hooks/${hook.id}`, { auth });
    });

    await t.test('repo.deleted goes out after the repository is gone; old deliveries are pruned', async (t) => {
      await createRepo(server, auth, 'doomed');
      receiver.received.length = 0;
      const hook = await createHook(server, auth, `${alice.username}/doomed`, { url: receiver.url, events: ['repo.deleted'] });
      t.equal((await server.api('DELETE', `/api/v1/repos/${alice.username}/doomed`, { auth })).status, 204);
      const [deleted] = await waitFor(() => (receiver.ofEvent('repo.deleted').length ? receiver.ofEvent('repo.deleted') : null));
      t.equal(deleted!.json.repository.full_name, `${alice.username}/doomed`);
      t.equal(deleted!.json.action, 'deleted');
      void hook;
      await server.services.queue.drain();
      const db = server.services.db;
      await sql`update webhook_deliveries set created_at = now() - interval '31 days'`.execute(db);
      const pruned = await server.services.webhooks.prune();
      t.ok(pruned > 0, `${pruned} old deliveries pruned`);
      const left = await sql<{ n: string }>`select count(*) as n from webhook_deliveries`.execute(db);
      t.equal(Number(left.rows[0]!.n), 0);
    });
  });
}

const prefixes: string[] = [];
t.teardown(async () => {
  const redis = new Redis(TEST_REDIS_URL);
  for (const prefix of prefixes) {
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 })) {
      if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
    }
  }
  await redis.quit();
});
suite('in-process', prefixes);
suite('bullmq', prefixes);
