// Issue 15 (credential cache) and issue 16 (holes 1 and 8): who may manage tokens and sessions,
// and that password change, logout, suspension and deletion end credentials at once, over a real
// socket against Postgres and the embedded PGlite.
import fs from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { GitClient } from './helpers/git-client.ts';
import { manifest, pushProject, startRunsServer } from './helpers/runs.ts';
import { ADMIN_PASSWORD, startServer, type TestServer } from './helpers/server.ts';

const ADMIN = `admin:${ADMIN_PASSWORD}`;
// Many refusals on purpose: keep the per-address failure limiter out of the way.
const lenient = { authFailures: { max: 10_000, windowSeconds: 300 } };

async function login(t: Test, server: TestServer, username: string, password: string): Promise<string> {
  const response = await server.api('POST', '/api/v1/auth/login', { body: { username, password } });
  t.equal(response.status, 200, `login ${username}`);
  return response.body.token as string;
}

async function mint(server: TestServer, auth: string, scopes: string[]): Promise<{ status: number; id: number; token: string }> {
  const response = await server.api('POST', '/api/v1/user/tokens', { auth, body: { name: `t-${scopes.join('-')}`, scopes } });
  return { status: response.status, id: response.body?.id, token: response.body?.token };
}

/** The status of `GET /api/v1/user` with this credential: the simplest "does it still work". */
async function whoami(server: TestServer, auth: string): Promise<number> {
  return (await server.api('GET', '/api/v1/user', { auth })).status;
}

t.test('token management needs a login or the "tokens" scope (issue 16, hole 1)', async (t) => {
  const server = await startServer(t, { config: lenient });
  const alice = await server.user('alice');
  const jwt = await login(t, server, 'alice', alice.password);
  const tokenOf = async (scopes: string[]) => (await mint(server, alice.basic, scopes)).token;

  // [credential, may it create, list and revoke other tokens?]
  const cases: [string, string, boolean][] = [
    ['read token', await tokenOf(['read']), false],
    ['read+write token', await tokenOf(['read', 'write']), false],
    ['read token via Basic', `alice:${await tokenOf(['read'])}`, false],
    ['read+tokens token', await tokenOf(['read', 'tokens']), true],
    ['admin-scoped token', await tokenOf(['admin']), true],
    ['password', alice.basic, true],
    ['login JWT', jwt, true],
  ];
  for (const [what, auth, allowed] of cases) {
    await t.test(`${what}: ${allowed ? 'allowed' : '403'}`, async (t) => {
      const victim = await mint(server, alice.basic, ['admin']);
      const created = await mint(server, auth, ['read']);
      t.equal(created.status, allowed ? 201 : 403, 'create');
      t.equal((await server.api('GET', '/api/v1/user/tokens', { auth })).status, allowed ? 200 : 403, 'list');
      const revoke = await server.api('DELETE', `/api/v1/user/tokens/${victim.id}`, { auth });
      t.equal(revoke.status, allowed ? 204 : 403, 'revoke another token');
      if (!allowed) t.match(revoke.body.error, { code: 'forbidden', message: /"tokens" scope/ });
      t.equal(await whoami(server, victim.token), allowed ? 401 : 200, 'the other token lives only if the revoke was refused');
    });
  }

  await t.test('the attack from the issue: a read token against the site admin', async (t) => {
    const adminToken = await mint(server, ADMIN, ['admin']);
    const readToken = await mint(server, ADMIN, ['read']);
    t.equal((await mint(server, readToken.token, ['read'])).status, 403, 'cannot mint');
    t.equal((await server.api('DELETE', `/api/v1/user/tokens/${adminToken.id}`, { auth: readToken.token })).status, 403, 'cannot revoke the admin token');
    t.equal(await whoami(server, adminToken.token), 200, 'the admin token still works');
    t.equal((await server.api('DELETE', `/api/v1/user/tokens/${readToken.id}`, { auth: readToken.token })).status, 204, 'but it may revoke itself');
    t.equal(await whoami(server, readToken.token), 401);
  });

  await t.test('a "tokens" token mints only within its own scopes', async (t) => {
    const manager = await tokenOf(['read', 'tokens']);
    const cases: [string[], number][] = [
      [['read'], 201],
      [['tokens'], 201],
      [['read', 'tokens'], 201],
      [['write'], 403],
      [['read', 'write'], 403],
      [['admin'], 403],
    ];
    for (const [scopes, status] of cases) t.equal((await mint(server, manager, scopes)).status, status, JSON.stringify(scopes));
    // admin implies tokens, so an admin-scoped token hands it on.
    const created = await mint(server, await tokenOf(['admin']), ['tokens']);
    t.equal(created.status, 201);
  });
});

for (const database of ['postgres', 'pglite'] as const) {
  t.test(`credentials end at once (${database})`, async (t) => {
    const server = await startServer(t, { database, config: lenient });
    const accounts = server.services.accounts;
    // Records whose password scrypt checked: the credential cache must save all but the first check.
    let verified: string[] = [];
    const checkPassword = accounts.checkPassword.bind(accounts);
    accounts.checkPassword = (username, password) => {
      verified.push(username);
      return checkPassword(username, password);
    };

    await t.test('a password is verified once, then served from the cache', async (t) => {
      // The helper mints carol's token with her password: the first check.
      const carol = await server.user('carol');
      for (let i = 0; i < 3; i++) t.equal(await whoami(server, carol.basic), 200);
      t.same(verified.filter((name) => name === 'carol'), ['carol'], 'one scrypt for four requests');
      verified = [];
      t.equal(await whoami(server, 'carol:wrong password'), 401);
      t.equal(await whoami(server, 'carol:wrong password'), 401);
      t.same(verified, ['carol', 'carol'], 'failures are never cached');
    });

    await t.test('password change: old JWTs and the cached password die, tokens live', async (t) => {
      const dave = await server.user('dave');
      const jwt = await login(t, server, 'dave', dave.password);
      t.equal(await whoami(server, dave.basic), 200, 'the old password is cached now');
      const readToken = (await mint(server, dave.basic, ['read'])).token;
      const change = (auth: string, body: unknown) => server.api('PATCH', '/api/v1/user/password', { auth, body });
      const newPassword = 'a brand new password';

      const refusals: [string, string, unknown, number][] = [
        ['a read token', readToken, { current_password: dave.password, new_password: newPassword }, 403],
        ['a wrong current password', jwt, { current_password: 'not it at all', new_password: newPassword }, 403],
        ['a short new password', jwt, { current_password: dave.password, new_password: 'short' }, 422],
        ['no current password', jwt, { new_password: newPassword }, 422],
        ['no credentials', '', { current_password: dave.password, new_password: newPassword }, 401],
      ];
      for (const [what, auth, body, status] of refusals) t.equal((await change(auth, body)).status, status, what);
      t.equal(await whoami(server, jwt), 200, 'nothing changed yet');

      t.equal((await change(jwt, { current_password: dave.password, new_password: newPassword })).status, 204);
      verified = [];
      t.equal(await whoami(server, jwt), 401, 'the old JWT');
      t.equal(await whoami(server, dave.basic), 401, 'the old password, at once');
      t.same(verified, ['dave'], 'the old password was checked again, not served from the cache');
      t.equal(await whoami(server, `dave:${newPassword}`), 200, 'the new password');
      t.equal(await whoami(server, dave.token), 200, 'API tokens stay valid');
      t.equal(await whoami(server, await login(t, server, 'dave', newPassword)), 200, 'a new login works');
    });

    await t.test('logout ends every login JWT of the caller', async (t) => {
      const erin = await server.user('erin');
      const [first, second] = [await login(t, server, 'erin', erin.password), await login(t, server, 'erin', erin.password)];
      const readToken = (await mint(server, erin.basic, ['read'])).token;
      t.equal((await server.api('POST', '/api/v1/auth/logout', { auth: readToken })).status, 403, 'a read token cannot log the owner out');
      t.equal(await whoami(server, first), 200);
      t.equal((await server.api('POST', '/api/v1/auth/logout', { auth: first })).status, 204);
      t.equal(await whoami(server, first), 401, 'the JWT that logged out');
      t.equal(await whoami(server, second), 401, 'and the other session');
      t.equal(await whoami(server, readToken), 200, 'tokens are not sessions');
      t.equal(await whoami(server, await login(t, server, 'erin', erin.password)), 200, 'a new login works');
    });

    await t.test('suspension refuses token, password and JWT at once; lifting it restores tokens and passwords', async (t) => {
      const frank = await server.user('frank');
      t.equal((await server.api('POST', '/api/v1/repos', { auth: frank.token, body: { name: 'open' } })).status, 201);
      const jwt = await login(t, server, 'frank', frank.password);
      const git = (auth: string) => fetch(`${server.url}/frank/open.git/info/refs?service=git-upload-pack`, { headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } });
      // Warm every cache first: suspension must not wait for an entry to expire.
      for (const auth of [frank.token, frank.basic, jwt]) t.equal(await whoami(server, auth), 200);
      t.equal((await git(frank.tokenBasic)).status, 200);

      const suspension = (auth: string, method: 'PUT' | 'DELETE', username = 'frank') => server.api(method, `/api/v1/admin/users/${username}/suspension`, { auth });
      const adminReadToken = (await mint(server, ADMIN, ['read', 'write'])).token;
      const refusals: [string, string, string, number][] = [
        ['a non-admin', frank.basic, 'carol', 403],
        ["an admin's token without the admin scope", adminReadToken, 'frank', 403],
        ['an unknown user', ADMIN, 'nobody', 404],
        ['the admin themselves', ADMIN, 'admin', 422],
      ];
      for (const [what, auth, username, status] of refusals) t.equal((await suspension(auth, 'PUT', username)).status, status, what);

      t.equal((await suspension(ADMIN, 'PUT')).status, 204);
      const token = await server.api('GET', '/api/v1/user', { auth: frank.token });
      t.equal(token.status, 403, 'token');
      t.match(token.body.error, { code: 'forbidden', message: /suspended/ });
      t.equal(await whoami(server, frank.basic), 403, 'password');
      t.equal(await whoami(server, frank.tokenBasic), 403, 'token via Basic');
      t.equal(await whoami(server, jwt), 401, 'login JWT');
      t.equal((await git(frank.tokenBasic)).status, 403, 'git');
      t.equal((await server.api('POST', '/api/v1/auth/login', { body: { username: 'frank', password: frank.password } })).status, 403, 'login');
      t.equal(await whoami(server, 'frank:wrong password'), 401, 'a wrong password is still just wrong');

      t.equal((await suspension(ADMIN, 'DELETE')).status, 204);
      t.equal(await whoami(server, frank.token), 200, 'token again');
      t.equal(await whoami(server, frank.basic), 200, 'password again');
      t.equal(await whoami(server, jwt), 401, 'the JWT from before stays dead');

      const audit = await server.api('GET', '/api/v1/admin/audit?per_page=100', { auth: ADMIN });
      const entries = (audit.body as any[]).map((e) => `${e.action} ${e.actor} ${e.target}`);
      for (const line of ['user.suspend admin frank', 'user.unsuspend admin frank', 'password.change dave dave', 'logout erin erin']) t.ok(entries.includes(line), line);
    });
  });
}

t.test('deleting a user deletes or transfers their repos and cancels their runs', async (t) => {
  // No runner: pushed runs stay queued until something cancels them.
  const server = await startRunsServer(t, { runner: 'off' }, { config: lenient });
  const git = await GitClient.create(t);
  const project = { 'mlproject.yaml': manifest('jobs:\n  train:\n    kind: train\n    command: "true"\n  lint:\n    kind: custom\n    command: "true"\n') };
  const remove = (username: string, query = '', auth = ADMIN) => server.api('DELETE', `/api/v1/admin/users/${username}${query}`, { auth });
  const runsOf = async (repo: string) => (await server.api('GET', `/api/v1/repos/${repo}/runs`, { auth: ADMIN })).body as any[];
  const repoDir = (id: number) => path.join(server.dataDir, 'repos', (id % 256).toString(16).padStart(2, '0'), `${id}.git`);

  const [gina, hank, ivy] = [await server.user('gina'), await server.user('hank'), await server.user('ivy')];
  for (const user of [gina, hank]) {
    // A client each: the work tree is named after the repo.
    const pushed = await pushProject(server, await GitClient.create(t), user, 'model', project);
    t.equal(pushed.push.code, 0, pushed.push.stderr);
  }
  t.equal((await server.api('POST', '/api/v1/repos', { auth: gina.token, body: { name: 'notes' } })).status, 201);
  t.equal((await server.api('POST', '/api/v1/repos', { auth: ivy.token, body: { name: 'notes' } })).status, 201);
  // One of gina's runs is running on a runner when she goes.
  const [running] = await runsOf('gina/model');
  await server.services.runs.lifecycle.claim(running.id, running.attempt, 'test-runner');

  await t.test('refusals change nothing', async (t) => {
    const cases: [string, string, string, string, number][] = [
      ['a non-admin', 'gina', '', hank.basic, 403],
      ['an unknown user', 'nobody', '', ADMIN, 404],
      ['the admin themselves', 'admin', '', ADMIN, 422],
      ['an unknown heir', 'gina', '?transfer_to=nobody', ADMIN, 404],
      ['the user as their own heir', 'gina', '?transfer_to=gina', ADMIN, 422],
      ['an heir with a repo of the same name', 'gina', '?transfer_to=ivy', ADMIN, 409],
    ];
    for (const [what, username, query, auth, status] of cases) t.equal((await remove(username, query, auth)).status, status, what);
    t.equal(await whoami(server, gina.token), 200, 'gina is untouched');
    t.same((await runsOf('gina/model')).map((r) => r.status).sort(), ['queued', 'running'], "gina's runs are untouched");
  });

  await t.test('delete: repos gone from the database and the disk, runs cancelled, credentials dead', async (t) => {
    const ids = await Promise.all(['model', 'notes'].map(async (name) => (await server.api('GET', `/api/v1/repos/gina/${name}`, { auth: ADMIN })).body.id as number));
    const active = (await runsOf('gina/model')).map((r) => r.id).sort((a, b) => a - b);
    const jwt = await login(t, server, 'gina', gina.password);
    const removed = await remove('gina');
    t.equal(removed.status, 200, JSON.stringify(removed.body));
    t.same(removed.body, { deleted_repos: ['model', 'notes'], transferred_repos: [], cancelled_runs: active });
    for (const name of ['model', 'notes']) t.equal((await server.api('GET', `/api/v1/repos/gina/${name}`, { auth: ADMIN })).status, 404, `gina/${name}`);
    for (const id of ids) t.equal(await fs.stat(repoDir(id)).then(() => 'present', () => 'gone'), 'gone', `repo ${id} on disk`);
    for (const auth of [gina.token, gina.basic, jwt]) t.equal(await whoami(server, auth), 401);
    t.equal((await remove('gina')).status, 404, 'gone for good');
  });

  await t.test('transfer: repos move to the heir, runs cancelled', async (t) => {
    const removed = await remove('hank', '?transfer_to=ivy');
    t.equal(removed.status, 200, JSON.stringify(removed.body));
    t.same(removed.body.transferred_repos, ['model']);
    t.same(removed.body.deleted_repos, []);
    const runs = await runsOf('ivy/model');
    t.ok(runs.length > 0 && runs.every((r) => r.status === 'cancelled'), JSON.stringify(runs.map((r) => r.status)));
    t.same(removed.body.cancelled_runs, runs.map((r) => r.id).sort((a, b) => a - b));
    const clone = await git.run(['clone', '-q', server.gitUrl('ivy', 'model', ivy.tokenBasic), path.join(git.home, 'inherited')]);
    t.equal(clone.code, 0, clone.stderr);
    t.equal(await whoami(server, hank.token), 401);
  });

  await t.test('each deletion is audited', async (t) => {
    const audit = await server.api('GET', '/api/v1/admin/audit?action=user.delete', { auth: ADMIN });
    const byTarget = Object.fromEntries((audit.body as any[]).map((e) => [e.target, e.details]));
    t.match(byTarget.gina, { deleted_repos: ['model', 'notes'], transfer_to: null });
    t.match(byTarget.hank, { transferred_repos: ['model'], transfer_to: 'ivy' });
  });
});
