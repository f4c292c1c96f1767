import t, { type Test } from 'tap';
import { sql } from 'kysely';
import pg from 'pg';
import { TEST_POSTGRES_URL } from './helpers/postgres.ts';
import { GitClient } from './helpers/git-client.ts';
import { ADMIN_PASSWORD, startServer, type TestServer } from './helpers/server.ts';

const ADMIN = `admin:${ADMIN_PASSWORD}`;

/** Every error the API returns has exactly this shape. */
function isErrorBody(t: Test, response: { status: number; body: any }, status: number, code?: string): void {
  t.equal(response.status, status, `status ${status}: ${JSON.stringify(response.body)}`);
  t.type(response.body, 'object', 'JSON body');
  t.type(response.body?.error?.code, 'string', 'error.code');
  t.type(response.body?.error?.message, 'string', 'error.message');
  t.same(Object.keys(response.body ?? {}), ['error'], 'only "error" at the top level');
  if (code) t.equal(response.body?.error?.code, code);
}

function decodeJwt(token: string): any {
  const [, payload = ''] = token.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

// Many failures on purpose below: keep the per-address limiter out of the way except where tested.
// Sign-up is opened here because these tests exercise it (the default is closed, tested below).
const lenient = { authFailures: { max: 10_000, windowSeconds: 300 }, signup: 'open' } as const;

t.test('health endpoints', async (t) => {
  const server = await startServer(t, { config: lenient });
  const health = await server.api('GET', '/healthz');
  t.equal(health.status, 200);
  t.same(health.body, { status: 'ok' });
  const ready = await server.api('GET', '/readyz');
  t.equal(ready.status, 200);
  t.same(ready.body, { status: 'ready', queue: 'ok', object_store: 'ok', push_outbox_backlog: 0 });
  t.ok(health.headers.get('x-request-id'), 'every response carries a request id');

  await t.test('unknown route is a JSON 404', async (t) => {
    isErrorBody(t, await server.api('GET', '/api/v1/nope'), 404, 'not_found');
  });
});

t.test('sign-up (open)', async (t) => {
  const server = await startServer(t, { config: lenient });

  await t.test('creates a user: 201 {id, username}', async (t) => {
    const created = await server.api('POST', '/api/v1/users', { body: { username: 'alice', password: 'correct horse', email: 'alice@example.com' } });
    t.equal(created.status, 201);
    t.same(Object.keys(created.body).sort(), ['id', 'username']);
    t.type(created.body.id, 'number');
    t.equal(created.body.username, 'alice');
    const me = await server.api('GET', '/api/v1/user', { auth: 'alice:correct horse' });
    t.equal(me.status, 200);
    t.equal(me.body.id, created.body.id);
    t.equal(me.body.username, 'alice');
    t.equal(me.body.email, 'alice@example.com');
    t.equal(me.body.is_admin, false);
    t.notOk('password_hash' in me.body || 'password' in me.body, 'no password material');
  });

  await t.test('duplicates are 409, regardless of case', async (t) => {
    for (const username of ['alice', 'Alice', 'ALICE']) {
      isErrorBody(t, await server.api('POST', '/api/v1/users', { body: { username, password: 'another password' } }), 409, 'conflict');
    }
  });

  await t.test('two concurrent sign-ups for one name: one wins, the other is 409', async (t) => {
    const results = await Promise.all(
      ['racer', 'Racer'].map((username) => server.api('POST', '/api/v1/users', { body: { username, password: 'racing password' } })),
    );
    t.same(results.map((r) => r.status).sort(), [201, 409], JSON.stringify(results.map((r) => r.body)));
  });

  await t.test('bad usernames are 422', async (t) => {
    const bad = ['', ' ', 'a b', '-alice', '.alice', '_alice', 'al/ice', 'al\\ice', '../etc', 'a..b', 'x.git', 'ali%ce', 'üser', 'al\0ice', 'api', 'API', 'healthz', 'a'.repeat(41), 'a'.repeat(101), 'a'.repeat(5000)];
    for (const username of bad) {
      const response = await server.api('POST', '/api/v1/users', { body: { username, password: 'good password' } });
      isErrorBody(t, response, 422, 'invalid');
    }
    // A 40-character name is the longest allowed.
    t.equal((await server.api('POST', '/api/v1/users', { body: { username: 'b'.repeat(40), password: 'good password' } })).status, 201);
  });

  await t.test('bad passwords and emails are 422', async (t) => {
    for (const password of ['', 'short', '1234567', 'x'.repeat(1025), 'x'.repeat(100_000)]) {
      isErrorBody(t, await server.api('POST', '/api/v1/users', { body: { username: 'carol', password } }), 422, 'invalid');
    }
    for (const email of ['not-an-email', 'a b@c', '@x', `${'x'.repeat(250)}@example.com`, 'a\0b@example.com', 'a\u0007b@example.com']) {
      isErrorBody(t, await server.api('POST', '/api/v1/users', { body: { username: 'carol', password: 'good password', email } }), 422, 'invalid');
    }
    t.equal((await server.api('POST', '/api/v1/users', { body: { username: 'carol', password: '12345678' } })).status, 201, '8 characters is enough');
  });

  await t.test('malformed bodies are clean 4xx errors', async (t) => {
    const missing = await server.api('POST', '/api/v1/users', { body: { username: 'dave' } });
    t.ok(missing.status >= 400 && missing.status < 500, `missing password: ${missing.status}`);
    isErrorBody(t, missing, missing.status);
    const notJson = await server.api('POST', '/api/v1/users', { body: '{"username": ', headers: { 'content-type': 'application/json' } });
    isErrorBody(t, notJson, 400);
    const wrongType = await server.api('POST', '/api/v1/users', { body: 'username=dave', headers: { 'content-type': 'text/plain' } });
    t.ok(wrongType.status >= 400 && wrongType.status < 500, `text/plain body: ${wrongType.status}`);
    isErrorBody(t, wrongType, wrongType.status);
    t.equal((await server.api('POST', '/api/v1/users', { body: { username: 'dave', password: ['a', 'b'] } })).status >= 400, true);
  });

  await t.test('only admins may create admins', async (t) => {
    const anonymous = await server.api('POST', '/api/v1/users', { body: { username: 'eve', password: 'eve password', is_admin: true } });
    t.not(anonymous.status, 201, 'anonymous cannot self-promote');
    isErrorBody(t, anonymous, anonymous.status);
    const byUser = await server.api('POST', '/api/v1/users', { auth: 'alice:correct horse', body: { username: 'eve', password: 'eve password', is_admin: true } });
    isErrorBody(t, byUser, 403, 'forbidden');
    const byAdmin = await server.api('POST', '/api/v1/users', { auth: ADMIN, body: { username: 'eve', password: 'eve password', is_admin: true } });
    t.equal(byAdmin.status, 201);
    const eve = await server.api('GET', '/api/v1/user', { auth: 'eve:eve password' });
    t.equal(eve.body.is_admin, true);
  });
});

t.test('sign-up closed (MLGIT_SIGNUP=admin)', async (t) => {
  const server = await startServer(t, { config: { ...lenient, signup: 'admin' } });
  const anonymous = await server.api('POST', '/api/v1/users', { body: { username: 'alice', password: 'alice password' } });
  isErrorBody(t, anonymous, 401, 'unauthenticated');
  t.match(anonymous.headers.get('www-authenticate'), /^Basic /);

  const byAdmin = await server.api('POST', '/api/v1/users', { auth: ADMIN, body: { username: 'alice', password: 'alice password' } });
  t.equal(byAdmin.status, 201);
  t.same(Object.keys(byAdmin.body).sort(), ['id', 'username']);

  const byUser = await server.api('POST', '/api/v1/users', { auth: 'alice:alice password', body: { username: 'bob', password: 'bob password' } });
  isErrorBody(t, byUser, 403, 'forbidden');

  // An admin's token without the admin scope is not enough either.
  const token = await server.api('POST', '/api/v1/user/tokens', { auth: ADMIN, body: { name: 'ci', scopes: ['write'] } });
  t.equal(token.status, 201);
  isErrorBody(t, await server.api('POST', '/api/v1/users', { auth: token.body.token, body: { username: 'bob', password: 'bob password' } }), 403, 'forbidden');
  const adminToken = await server.api('POST', '/api/v1/user/tokens', { auth: ADMIN, body: { name: 'ops', scopes: ['admin'] } });
  t.equal((await server.api('POST', '/api/v1/users', { auth: adminToken.body.token, body: { username: 'bob', password: 'bob password' } })).status, 201);
});

t.test('login and JWTs', async (t) => {
  const server = await startServer(t, { config: lenient });
  const alice = await server.user('alice');

  await t.test('login returns a JWT usable as Bearer', async (t) => {
    const login = await server.api('POST', '/api/v1/auth/login', { body: { username: 'alice', password: alice.password } });
    t.equal(login.status, 200);
    t.type(login.body.token, 'string');
    const claims = decodeJwt(login.body.token);
    t.equal(claims.ver, 0, 'the credential version it was issued under');
    t.equal(claims.sub, String((await server.api('GET', '/api/v1/user', { auth: alice.token })).body.id));
    t.type(claims.exp, 'number', 'the JWT expires');
    t.equal(claims.exp - claims.iat, server.config.jwtTtlSeconds);
    const me = await server.api('GET', '/api/v1/user', { auth: login.body.token });
    t.equal(me.status, 200);
    t.equal(me.body.username, 'alice');
    // Login is case-insensitive on the name, like every other lookup.
    t.equal((await server.api('POST', '/api/v1/auth/login', { body: { username: 'ALICE', password: alice.password } })).status, 200);
  });

  await t.test('wrong password or unknown user: 401, same message', async (t) => {
    const wrong = await server.api('POST', '/api/v1/auth/login', { body: { username: 'alice', password: 'wrong password' } });
    const unknown = await server.api('POST', '/api/v1/auth/login', { body: { username: 'nobody', password: 'wrong password' } });
    isErrorBody(t, wrong, 401, 'unauthenticated');
    isErrorBody(t, unknown, 401, 'unauthenticated');
    t.equal(wrong.body.error.message, unknown.body.error.message, 'does not reveal which names exist');
    // Names that can never exist (NUL cannot even be stored) are a plain 401, not a database error.
    for (const username of ['a\0b', 'x'.repeat(5000), '../admin']) {
      isErrorBody(t, await server.api('POST', '/api/v1/auth/login', { body: { username, password: 'wrong password' } }), 401, 'unauthenticated');
      isErrorBody(t, await server.api('GET', '/api/v1/user', { auth: `${username}:wrong password` }), 401, 'unauthenticated');
    }
    t.notOk(wrong.body.token);
  });

  await t.test('expired, forged and garbage JWTs are rejected', async (t) => {
    const me = (await server.api('GET', '/api/v1/user', { auth: alice.token })).body;
    const expired = server.app.jwt.sign({ sub: String(me.id), name: 'alice', ver: 0 }, { expiresIn: -10 } as never);
    t.ok(decodeJwt(expired).exp < Date.now() / 1000, 'token is in the past');
    isErrorBody(t, await server.api('GET', '/api/v1/user', { auth: expired }), 401, 'unauthenticated');
    const valid = server.app.jwt.sign({ sub: String(me.id), name: 'alice', ver: 0 }, { expiresIn: 60 });
    t.equal((await server.api('GET', '/api/v1/user', { auth: valid })).status, 200, 'a fresh one from the same signer works');
    // Without the credential version (a JWT from before versions existed) it is refused.
    isErrorBody(t, await server.api('GET', '/api/v1/user', { auth: server.app.jwt.sign({ sub: String(me.id), name: 'alice' }, { expiresIn: 60 }) }), 401, 'unauthenticated');

    const [header, payload] = valid.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ ...decodeJwt(valid), sub: '1' })).toString('base64url');
    isErrorBody(t, await server.api('GET', '/api/v1/user', { auth: `${header}.${forgedPayload}.${valid.split('.')[2]}` }), 401);
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    isErrorBody(t, await server.api('GET', '/api/v1/user', { auth: unsigned }), 401);
    for (const auth of ['garbage', 'a.b.c', 'mlg_' + 'x'.repeat(43)]) isErrorBody(t, await server.api('GET', '/api/v1/user', { auth }), 401, 'unauthenticated');
    isErrorBody(t, await server.api('GET', '/api/v1/user', { headers: { authorization: 'Digest abc' } }), 401);
    isErrorBody(t, await server.api('GET', '/api/v1/user', { headers: { authorization: 'Basic !!!' } }), 401);
    const anonymous = await server.api('GET', '/api/v1/user');
    isErrorBody(t, anonymous, 401, 'unauthenticated');
    t.match(anonymous.headers.get('www-authenticate'), /^Basic realm=/);
  });

  await t.test('a JWT of a user who no longer exists is rejected', async (t) => {
    const ghost = server.app.jwt.sign({ sub: '999999', name: 'ghost' }, { expiresIn: 60 });
    isErrorBody(t, await server.api('GET', '/api/v1/user', { auth: ghost }), 401);
    const notNumeric = server.app.jwt.sign({ sub: 'alice', name: 'alice' }, { expiresIn: 60 });
    isErrorBody(t, await server.api('GET', '/api/v1/user', { auth: notNumeric }), 401);
  });
});

t.test('failed logins are rate limited per address', async (t) => {
  const server = await startServer(t, { config: { authFailures: { max: 3, windowSeconds: 60 } } });
  for (let i = 0; i < 3; i++) t.equal((await server.api('POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'nope-nope' } })).status, 401);
  const limited = await server.api('POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  isErrorBody(t, limited, 429, 'rate_limited');
  t.ok(Number(limited.headers.get('retry-after')) > 0, 'Retry-After');
  t.equal((await server.api('GET', '/api/v1/user', { auth: ADMIN })).status, 429, 'Basic auth is limited too');
  t.equal((await server.api('GET', '/healthz')).status, 200, 'the server keeps serving');
});

t.test('personal access tokens', async (t) => {
  const server = await startServer(t, { config: lenient });
  const git = await GitClient.create(t);
  const alice = await server.user('alice');
  const bob = await server.user('bob');
  const priv = await server.api('POST', '/api/v1/repos', { auth: alice.token, body: { name: 'secret', private: true } });
  t.equal(priv.status, 201);

  const create = (auth: string, body: unknown) => server.api('POST', '/api/v1/user/tokens', { auth, body });

  await t.test('create: 201, token shown once, scopes normalised', async (t) => {
    const cases: [string[], string[]][] = [
      [['read'], ['read']],
      [['write'], ['read', 'write']],
      [['write', 'read'], ['read', 'write']],
      [['read', 'read'], ['read']],
      [['admin'], ['read', 'write', 'admin', 'tokens']],
      [['tokens'], ['tokens']],
      [['tokens', 'read'], ['read', 'tokens']],
    ];
    for (const [asked, normalised] of cases) {
      const created = await create(alice.basic, { name: `t-${asked.join('-')}`, scopes: asked });
      t.equal(created.status, 201, JSON.stringify(created.body));
      t.type(created.body.id, 'number');
      t.equal(created.body.name, `t-${asked.join('-')}`);
      t.match(created.body.token, /^mlg_[A-Za-z0-9_-]{43}$/);
      t.same(created.body.scopes, normalised, `${asked} -> ${normalised}`);
    }
    // Two tokens are never equal.
    const a = await create(alice.basic, { name: 'a', scopes: ['read'] });
    const b = await create(alice.basic, { name: 'a', scopes: ['read'] });
    t.not(a.body.token, b.body.token);
  });

  await t.test('create: bad input', async (t) => {
    for (const scopes of [[], ['delete'], ['read', 'root'], ['READ'], [1], {}]) {
      const response = await create(alice.token, { name: 'x', scopes });
      t.ok(response.status === 422 || response.status === 400, `scopes ${JSON.stringify(scopes)}: ${response.status}`);
      isErrorBody(t, response, response.status);
    }
    for (const name of ['', '   ', 'x'.repeat(101), 'a\0b', 'line\nbreak']) isErrorBody(t, await create(alice.token, { name, scopes: ['read'] }), 422, 'invalid');
    isErrorBody(t, await create('', { name: 'x', scopes: ['read'] }), 401, 'unauthenticated');
    isErrorBody(t, await server.api('POST', '/api/v1/user/tokens', { body: { name: 'x', scopes: ['read'] } }), 401, 'unauthenticated');
  });

  await t.test('a token cannot mint a stronger token', async (t) => {
    // alice.token has read, write and tokens (the test helper's default).
    const readOnly = await create(alice.token, { name: 'ro', scopes: ['read', 'tokens'] });
    t.equal(readOnly.status, 201);
    isErrorBody(t, await create(readOnly.body.token, { name: 'rw', scopes: ['read', 'write'] }), 403, 'forbidden');
    isErrorBody(t, await create(readOnly.body.token, { name: 'rw', scopes: ['write'] }), 403, 'forbidden');
    isErrorBody(t, await create(alice.token, { name: 'adm', scopes: ['admin'] }), 403, 'forbidden');
    t.equal((await create(readOnly.body.token, { name: 'ro2', scopes: ['read'] })).status, 201, 'same or weaker is fine');
    // Via Basic username:token the same cap applies.
    isErrorBody(t, await create(`alice:${readOnly.body.token}`, { name: 'rw', scopes: ['write'] }), 403, 'forbidden');
    // Without the tokens scope a token mints nothing at all (test/account-credentials.test.ts has the full table).
    const plain = await create(alice.token, { name: 'plain', scopes: ['read', 'write'] });
    isErrorBody(t, await create(plain.body.token, { name: 'ro3', scopes: ['read'] }), 403, 'forbidden');
    // A JWT from login carries the user's full authority.
    const login = await server.api('POST', '/api/v1/auth/login', { body: { username: 'alice', password: alice.password } });
    t.equal((await create(login.body.token, { name: 'from-jwt', scopes: ['read', 'write'] })).status, 201);
  });

  await t.test('Basic username:token needs the right username', async (t) => {
    t.equal((await server.api('GET', '/api/v1/user', { auth: `alice:${alice.token}` })).status, 200);
    t.equal((await server.api('GET', '/api/v1/user', { auth: `ALICE:${alice.token}` })).status, 200);
    isErrorBody(t, await server.api('GET', '/api/v1/user', { auth: `bob:${alice.token}` }), 401);
  });

  await t.test('list: no secrets', async (t) => {
    const list = await server.api('GET', '/api/v1/user/tokens', { auth: alice.token });
    t.equal(list.status, 200);
    t.ok(Array.isArray(list.body) && list.body.length >= 10, `${list.body.length} tokens`);
    const text = JSON.stringify(list.body);
    t.notMatch(text, /mlg_/, 'no token values');
    t.notMatch(text, /hash/i, 'no hashes');
    for (const token of list.body) {
      t.same(Object.keys(token).sort(), ['created_at', 'id', 'last_used_at', 'name', 'scopes']);
    }
    const used = list.body.find((tk: any) => tk.name === 'test');
    t.ok(used?.last_used_at, 'the token used for this request has last_used_at');
    const bobs = await server.api('GET', '/api/v1/user/tokens', { auth: bob.token });
    t.equal(bobs.body.length, 1, 'users only see their own tokens');
    isErrorBody(t, await server.api('GET', '/api/v1/user/tokens'), 401, 'unauthenticated');
  });

  await t.test('revoke: the token stops working on the API and on git', async (t) => {
    const created = await create(alice.basic, { name: 'to-revoke', scopes: ['read', 'write'] });
    const token = created.body.token as string;
    const url = server.gitUrl('alice', 'secret', `alice:${token}`);
    t.equal((await server.api('GET', '/api/v1/user', { auth: token })).status, 200);
    const before = await git.run(['ls-remote', url]);
    t.equal(before.code, 0, before.stderr);

    isErrorBody(t, await server.api('DELETE', `/api/v1/user/tokens/${created.body.id}`, { auth: bob.token }), 404, 'not_found');
    t.equal((await server.api('GET', '/api/v1/user', { auth: token })).status, 200, "bob cannot revoke alice's token");

    const revoked = await server.api('DELETE', `/api/v1/user/tokens/${created.body.id}`, { auth: alice.token });
    t.equal(revoked.status, 204);
    isErrorBody(t, await server.api('GET', '/api/v1/user', { auth: token }), 401, 'unauthenticated');
    isErrorBody(t, await server.api('GET', '/api/v1/user', { auth: `alice:${token}` }), 401, 'unauthenticated');
    const after = await git.run(['ls-remote', url]);
    t.not(after.code, 0, 'git refuses the revoked token');
    t.match(after.stderr, /Authentication failed|401|could not read Username/);
    const list = await server.api('GET', '/api/v1/user/tokens', { auth: alice.token });
    t.notOk(list.body.some((tk: any) => tk.id === created.body.id), 'gone from the list');

    isErrorBody(t, await server.api('DELETE', `/api/v1/user/tokens/${created.body.id}`, { auth: alice.token }), 404, 'not_found');
    for (const id of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
      isErrorBody(t, await server.api('DELETE', `/api/v1/user/tokens/${id}`, { auth: alice.token }), 422, 'invalid');
    }
    isErrorBody(t, await server.api('DELETE', '/api/v1/user/tokens/2147483647', { auth: alice.token }), 404, 'not_found');
  });

  await t.test('a token can revoke itself', async (t) => {
    const created = await create(alice.basic, { name: 'self', scopes: ['read'] });
    t.equal((await server.api('DELETE', `/api/v1/user/tokens/${created.body.id}`, { auth: created.body.token })).status, 204);
    t.equal((await server.api('GET', '/api/v1/user', { auth: created.body.token })).status, 401);
  });
});

t.test('errors: JSON shape, 5xx hidden', async (t) => {
  const server: TestServer = await startServer(t, { config: lenient });
  const alice = await server.user('alice');

  await t.test('a failing database query is a 500 that leaks nothing', async (t) => {
    await sql`alter table tokens rename to tokens_moved`.execute(server.services.db);
    try {
      const failed = await server.api('GET', '/api/v1/user/tokens', { auth: alice.basic });
      isErrorBody(t, failed, 500, 'internal');
      t.notMatch(failed.body.error.message, /tokens|relation|select|sql|postgres/i, 'no internals in the message');
      t.match(failed.body.error.message, failed.headers.get('x-request-id') ?? 'missing', 'the message names the request id to look up in the log');
    } finally {
      await sql`alter table tokens_moved rename to tokens`.execute(server.services.db);
    }
    t.equal((await server.api('GET', '/api/v1/user/tokens', { auth: alice.basic })).status, 200, 'and the server recovers');
  });

  // A database that drops idle connections (restart, failover) must not crash the process.
  await t.test('/readyz is 503 while the database refuses connections; /healthz stays 200', async (t) => {
    const name = new URL(server.config.databaseUrl ?? '').pathname.slice(1);
    const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
    try {
      await admin.query(`alter database ${name} allow_connections false`);
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
      const ready = await server.api('GET', '/readyz');
      t.equal(ready.status, 503);
      t.equal(ready.body?.error?.code, 'database_unreachable');
      t.notMatch(JSON.stringify(ready.body), /allow|terminat|connection|postgres/i, 'no internals');
      t.equal((await server.api('GET', '/healthz')).status, 200);
    } finally {
      await admin.query(`alter database ${name} allow_connections true`);
      await admin.end();
    }
    // The pool reconnects once the database is back.
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      status = (await server.api('GET', '/readyz')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    t.equal(status, 200, 'ready again');
  });
});
