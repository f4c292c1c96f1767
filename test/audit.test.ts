import t from 'tap';
import { loadConfig } from '../server/config.ts';
import { startServer } from './helpers/server.ts';
import { WebhookReceiver } from './helpers/webhook-receiver.ts';

t.test('audit log', async (t) => {
  const server = await startServer(t, { database: 'pglite', config: { webhooks: { ...loadConfig({}).webhooks, allow: ['127.0.0.1'] } } });
  const admin = `${server.admin.username}:${server.admin.password}`;
  const alice = await server.user('alice');
  await server.user('bob');
  const receiver = await WebhookReceiver.start(t);
  const started = Date.now();

  t.equal((await server.api('POST', '/api/v1/auth/login', { body: { username: 'alice', password: 'alice-password' } })).status, 200);
  t.equal((await server.api('POST', '/api/v1/auth/login', { body: { username: 'mallory', password: 'guess-guess' } })).status, 401);
  t.equal((await server.api('POST', '/api/v1/auth/login', { body: { username: 'eve\u0000\nadmin', password: 'guess-guess' } })).status, 401, 'a NUL in the tried name is still a 401');
  const token = await server.api('POST', '/api/v1/user/tokens', { auth: alice.basic, body: { name: 'laptop', scopes: ['read'] } });
  t.equal((await server.api('DELETE', `/api/v1/user/tokens/${token.body.id}`, { auth: alice.basic })).status, 204);
  await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'm' } });
  t.equal((await server.api('PATCH', '/api/v1/repos/alice/m', { auth: alice.basic, body: { private: true } })).status, 200);
  t.equal((await server.api('PATCH', '/api/v1/repos/alice/m', { auth: alice.basic, body: { description: 'no visibility change' } })).status, 200);
  t.equal((await server.api('PUT', '/api/v1/repos/alice/m/collaborators/bob', { auth: alice.basic, body: { role: 'write' } })).status, 204);
  t.equal((await server.api('DELETE', '/api/v1/repos/alice/m/collaborators/bob', { auth: alice.basic })).status, 204);
  const hook = await server.api('POST', '/api/v1/repos/alice/m/hooks', { auth: alice.basic, body: { url: receiver.url, events: ['push'] } });
  t.equal((await server.api('DELETE', `/api/v1/repos/alice/m/hooks/${hook.body.id}`, { auth: alice.basic })).status, 204);
  t.equal((await server.api('DELETE', '/api/v1/repos/alice/m', { auth: alice.basic })).status, 204);

  const log = await server.api('GET', '/api/v1/admin/audit?per_page=100', { auth: admin });
  t.equal(log.status, 200);
  const mine = [...(log.body as any[])].reverse();
  const actions = mine.map((e) => `${e.action} ${e.actor} ${e.target ?? ''}`.trim());
  t.same(
    actions,
    [
      'token.create alice alice',
      'token.create bob bob',
      'login alice',
      'login.failed mallory',
      'login.failed eve??admin',
      'token.create alice alice',
      'token.revoke alice alice',
      'repo.create alice alice/m',
      'repo.visibility alice alice/m',
      'collaborator.set alice alice/m',
      'collaborator.remove alice alice/m',
      'hook.create alice alice/m',
      'hook.delete alice alice/m',
      'repo.delete alice alice/m',
    ],
    'every security-relevant action, in order, once',
  );
  for (const entry of mine) {
    t.equal(entry.address, '127.0.0.1', `${entry.action} has the client address`);
    t.ok(Date.parse(entry.created_at) >= started - 60_000, `${entry.action} has a time`);
  }
  const byAction = Object.fromEntries(mine.map((e) => [e.action, e]));
  t.equal(byAction['login.failed'].actor_id, null, 'a failed login names who was tried, not a user id');
  t.same(byAction['repo.visibility'].details, { private: true });
  t.same(byAction['collaborator.set'].details, { username: 'bob', role: 'write' });
  t.same(byAction['token.revoke'].details, { token_id: token.body.id });
  t.equal(byAction['hook.create'].details.hook_id, hook.body.id);
  t.notOk(JSON.stringify(log.body).includes(token.body.token), 'no token secret in the log');

  await t.test('filters, pagination, ETag', async (t) => {
    const failed = await server.api('GET', '/api/v1/admin/audit?action=login.failed', { auth: admin });
    t.equal(failed.body.length, 2);
    t.same(failed.body.map((e: any) => e.actor), ['eve??admin', 'mallory']);
    const byActor = await server.api('GET', '/api/v1/admin/audit?actor=alice&per_page=2', { auth: admin });
    t.equal(byActor.body.length, 2);
    t.equal(byActor.headers.get('x-total-count'), String(mine.filter((e) => e.actor === 'alice').length));
    t.match(byActor.headers.get('link'), /page=2/);
    const etag = byActor.headers.get('etag')!;
    t.equal((await server.api('GET', '/api/v1/admin/audit?actor=alice&per_page=2', { auth: admin, headers: { 'if-none-match': etag } })).status, 304);
    t.equal((await server.api('GET', '/api/v1/admin/audit?action=bogus', { auth: admin })).status, 422);
    t.equal((await server.api('GET', '/api/v1/admin/audit?per_page=1000', { auth: admin })).status, 422);
  });

  await t.test('admins only, and only with an admin-scoped credential', async (t) => {
    t.equal((await server.api('GET', '/api/v1/admin/audit')).status, 401);
    t.equal((await server.api('GET', '/api/v1/admin/audit', { auth: alice.basic })).status, 403);
    const weak = await server.api('POST', '/api/v1/user/tokens', { auth: admin, body: { name: 'ro', scopes: ['read', 'write'] } });
    t.equal((await server.api('GET', '/api/v1/admin/audit', { auth: weak.body.token })).status, 403, "an admin's token without the admin scope");
  });
});
