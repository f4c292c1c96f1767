import t, { type Test } from 'tap';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { GitClient } from './helpers/git-client.ts';
import { ADMIN_PASSWORD, startServer } from './helpers/server.ts';

function isError(t: Test, response: { status: number; body: any }, status: number, code?: string): void {
  t.equal(response.status, status, `status ${status}: ${JSON.stringify(response.body)}`);
  t.same(Object.keys(response.body ?? {}), ['error'], 'error body shape');
  t.type(response.body?.error?.message, 'string');
  if (code) t.equal(response.body?.error?.code, code);
}

/** Where the git backend keeps a repo: repos/<id mod 256 hex>/<id>.git under the data dir. */
function repoDir(dataDir: string, id: number): string {
  return path.join(dataDir, 'repos', (id % 256).toString(16).padStart(2, '0'), `${id}.git`);
}

/** A GET whose path goes out byte for byte (fetch would resolve "..", "%2e%2e" and "." first). */
function rawGet(base: string, rawPath: string): Promise<{ status: number; body: any }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: rawPath, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const exists = (p: string) => fs.access(p).then(() => true, () => false);

/** Every byte value, twice, plus bytes that look like text and HTML. */
const BINARY = Buffer.concat([Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256)), Buffer.from('\0\r\n<html><script>alert(1)</script>\xff\xfe')]);

t.test('repositories REST API', async (t) => {
  const server = await startServer(t, { config: { authFailures: { max: 10_000, windowSeconds: 300 } } });
  const git = await GitClient.create(t);
  // Owners act with full tokens here; a read/write token cannot administer a repo (tested below).
  const full = ['read', 'write', 'admin'];
  const [alice, bob, carol] = await Promise.all([server.user('alice', full), server.user('bob', full), server.user('carol', full)]);
  const writeToken = async (user: { token: string }) =>
    (await server.api('POST', '/api/v1/user/tokens', { auth: user.token, body: { name: 'rw', scopes: ['read', 'write'] } })).body.token as string;
  const admin = `admin:${ADMIN_PASSWORD}`;
  const api = server.api;
  const ls = async (url: string) => (await git.ok(['ls-remote', url])).trim();

  await t.test('create', async (t) => {
    const created = await api('POST', '/api/v1/repos', { auth: alice.token, body: { name: 'digit-classifier', description: 'Classifies handwritten digits' } });
    t.equal(created.status, 201);
    t.match(created.body, {
      owner: 'alice',
      name: 'digit-classifier',
      private: false,
      kind: 'model',
      clone_url: `${server.url}/alice/digit-classifier.git`,
      default_branch: 'main',
      description: 'Classifies handwritten digits',
      fork_parent_id: null,
    });
    t.type(created.body.id, 'number');
    t.ok(await exists(path.join(repoDir(server.dataDir, created.body.id), 'HEAD')), 'bare repo on disk');
    t.ok(await exists(path.join(repoDir(server.dataDir, created.body.id), 'hooks', 'pre-receive')), 'hooks installed');
    // git creates the repo through the spawner, which must carry the server's umask 077 (issue 15).
    const entries = await fs.readdir(repoDir(server.dataDir, created.body.id), { recursive: true });
    const exposed = [];
    for (const entry of entries) if ((await fs.stat(path.join(repoDir(server.dataDir, created.body.id), entry))).mode & 0o077) exposed.push(entry);
    t.same(exposed, [], 'nothing in the bare repo is readable by other users');

    const dataset = await api('POST', '/api/v1/repos', { auth: alice.token, body: { name: 'mnist', kind: 'dataset', private: false, description: 'Handwritten digit images' } });
    t.equal(dataset.status, 201);
    t.equal(dataset.body.kind, 'dataset');
    const priv = await api('POST', '/api/v1/repos', { auth: bob.token, body: { name: 'secret-model', private: true, description: 'digit secrets' } });
    t.equal(priv.status, 201);
    t.equal(priv.body.private, true);
    t.equal(priv.body.owner, 'bob');
    // Same name under another owner is fine.
    t.equal((await api('POST', '/api/v1/repos', { auth: bob.token, body: { name: 'mnist', description: 'bob copy of the images' } })).status, 201);
  });

  await t.test('create: conflicts and bad input', async (t) => {
    isError(t, await api('POST', '/api/v1/repos', { auth: alice.token, body: { name: 'digit-classifier' } }), 409, 'conflict');
    isError(t, await api('POST', '/api/v1/repos', { auth: alice.token, body: { name: 'Digit-Classifier' } }), 409, 'conflict');
    const results = await Promise.all([1, 2, 3].map(() => api('POST', '/api/v1/repos', { auth: carol.token, body: { name: 'race' } })));
    t.same(results.map((r) => r.status).sort(), [201, 409, 409], 'concurrent creates: exactly one wins');

    const badNames = ['', '.hidden', '-x', 'a b', 'a/b', '..', 'a..b', 'x.git', 'X.GIT', 'a\\b', 'ü', 'a\0b', 'a%2fb', 'x'.repeat(101)];
    for (const name of badNames) isError(t, await api('POST', '/api/v1/repos', { auth: alice.token, body: { name } }), 422, 'invalid');
    isError(t, await api('POST', '/api/v1/repos', { auth: alice.token, body: { name: 'ok', kind: 'weights' } }), 422, 'invalid');
    isError(t, await api('POST', '/api/v1/repos', { auth: alice.token, body: { name: 'ok', description: 'x'.repeat(2001) } }), 422, 'invalid');
    isError(t, await api('POST', '/api/v1/repos', { auth: alice.token, body: { name: 'ok', description: 'nul \0 inside' } }), 422, 'invalid');
    const noName = await api('POST', '/api/v1/repos', { auth: alice.token, body: {} });
    t.ok(noName.status === 400 || noName.status === 422, `missing name: ${noName.status}`);
    isError(t, await api('POST', '/api/v1/repos', { body: { name: 'anon' } }), 401, 'unauthenticated');
    const readOnly = await api('POST', '/api/v1/user/tokens', { auth: alice.token, body: { name: 'ro', scopes: ['read'] } });
    isError(t, await api('POST', '/api/v1/repos', { auth: readOnly.body.token, body: { name: 'ro-repo' } }), 403, 'forbidden');
    t.equal((await api('GET', '/api/v1/repos/alice/ok', { auth: alice.token })).status, 404, 'nothing was created by the failures');
  });

  // Content for the browse and fork tests: two commits on main, a branch, a tag.
  const work = await git.workRepo('digits', [
    { 'README.md': '# digits\n', 'src/model.py': 'print("hi")\n' },
    { 'data/weights.bin': BINARY, 'docs/hello wörld.txt': 'unicode path\n', 'page.html': '<html><script>alert(1)</script></html>\n' },
  ]);
  await git.ok(['remote', 'add', 'origin', server.gitUrl('alice', 'digit-classifier', alice.tokenBasic)], { cwd: work });
  await git.ok(['push', '-q', 'origin', 'main'], { cwd: work });
  await git.ok(['checkout', '-q', '-b', 'dev'], { cwd: work });
  const devSha = await git.commit(work, { 'DEV.md': 'only on dev\n' }, 'dev work');
  await git.ok(['push', '-q', 'origin', 'dev', 'main~1:refs/heads/feature/x'], { cwd: work });
  await git.ok(['tag', 'v1', 'main'], { cwd: work });
  await git.ok(['push', '-q', 'origin', 'v1'], { cwd: work });
  await git.ok(['checkout', '-q', 'main'], { cwd: work });
  const mainSha = (await git.ok(['rev-parse', 'main'], { cwd: work })).trim();
  const firstSha = (await git.ok(['rev-parse', 'main~1'], { cwd: work })).trim();

  await t.test('list and search', async (t) => {
    // Extra repos for relevance, pagination and visibility.
    for (const [auth, body] of [
      [bob.token, { name: 'resnet', description: 'image classification backbone' }],
      [carol.token, { name: 'vision', description: 'one digit recognizer among many other vision things' }],
      [carol.token, { name: 'carol-private', private: true, description: 'digit' }],
    ] as const) {
      t.equal((await api('POST', '/api/v1/repos', { auth, body })).status, 201);
    }
    const names = (r: { body: any[] }) => r.body.map((x) => x.full_name);

    const anonymous = await api('GET', '/api/v1/repos?per_page=100');
    t.equal(anonymous.status, 200);
    t.notOk(names(anonymous).includes('bob/secret-model'), 'private repos are hidden from anonymous');
    t.notOk(names(anonymous).includes('carol/carol-private'));
    t.ok(names(anonymous).includes('alice/digit-classifier'));
    t.equal(anonymous.headers.get('x-total-count'), String(anonymous.body.length));

    const asAlice = await api('GET', '/api/v1/repos?per_page=100', { auth: alice.token });
    t.notOk(names(asAlice).includes('bob/secret-model'), 'and from other users');
    const asBob = await api('GET', '/api/v1/repos?per_page=100', { auth: bob.token });
    t.ok(names(asBob).includes('bob/secret-model'), 'visible to the owner');
    const asAdmin = await api('GET', '/api/v1/repos?per_page=100', { auth: admin });
    t.ok(names(asAdmin).includes('bob/secret-model') && names(asAdmin).includes('carol/carol-private'), 'site admin sees everything');

    // Recent push first when there is no query: only alice/digit-classifier has been pushed to.
    t.equal(anonymous.body[0].full_name, 'alice/digit-classifier', 'most recently pushed first');
    t.ok(anonymous.body[0].pushed_at, 'pushed_at is set');

    const digit = await api('GET', '/api/v1/repos?q=digit', { auth: bob.token });
    t.equal(digit.status, 200);
    t.same(new Set(names(digit)), new Set(['alice/digit-classifier', 'alice/mnist', 'carol/vision', 'bob/secret-model']), 'name and description words, private only for its owner');
    t.equal(digit.body[0].full_name, 'alice/digit-classifier', 'name match ranks first');
    t.equal(digit.headers.get('x-total-count'), '4');

    const prefix = await api('GET', '/api/v1/repos?q=dig');
    t.ok(names(prefix).includes('alice/digit-classifier'), 'name prefix');
    t.notOk(names(prefix).includes('bob/secret-model'));
    const classif = await api('GET', '/api/v1/repos?q=classif');
    t.same(new Set(names(classif)), new Set(['alice/digit-classifier', 'bob/resnet']), 'prefix of a name part and of a description word');
    const twoWords = await api('GET', '/api/v1/repos?q=handwritten%20images');
    t.same(names(twoWords), ['alice/mnist'], 'all words must match');
    t.same(names(await api('GET', '/api/v1/repos?q=nothing-like-this')), []);
    t.equal((await api('GET', '/api/v1/repos?q=' + encodeURIComponent("'&|!():*<>"))).status, 200, 'tsquery syntax in q is harmless');
    t.equal((await api('GET', '/api/v1/repos?q=' + encodeURIComponent('x'.repeat(2000)))).status, 200, 'long q');

    t.same(new Set(names(await api('GET', '/api/v1/repos?owner=alice'))), new Set(['alice/digit-classifier', 'alice/mnist']));
    t.same(new Set(names(await api('GET', '/api/v1/repos?owner=ALICE'))), new Set(['alice/digit-classifier', 'alice/mnist']), 'owner is case-insensitive');
    t.same(names(await api('GET', '/api/v1/repos?owner=bob')), ['bob/resnet', 'bob/mnist'].filter((n) => names(anonymous).includes(n)).sort((a, b) => names(anonymous).indexOf(a) - names(anonymous).indexOf(b)));
    t.same(names(await api('GET', '/api/v1/repos?owner=bob', { auth: bob.token })).length, 3);
    t.same(new Set(names(await api('GET', '/api/v1/repos?kind=dataset'))), new Set(['alice/mnist']));
    t.same(names(await api('GET', '/api/v1/repos?kind=dataset&owner=bob')), []);
    t.same(names(await api('GET', '/api/v1/repos?owner=nobody')), []);
    for (const query of ['owner=a%00b', 'kind=a%00b', 'q=a%00b', 'q=%ed%a0%80', 'kind=weights']) {
      const response = await api('GET', `/api/v1/repos?${query}`);
      t.equal(response.status, 200, query);
      t.same(response.body, [], query);
    }

    for (const query of ['page=0', 'page=-1', 'page=abc', 'per_page=0', 'per_page=101', 'per_page=1.5']) {
      isError(t, await api('GET', `/api/v1/repos?${query}`), 422, 'invalid');
    }
  });

  await t.test('pagination', async (t) => {
    const dave = await server.user('dave');
    for (let i = 1; i <= 7; i++) t.equal((await api('POST', '/api/v1/repos', { auth: dave.token, body: { name: `p${i}` } })).status, 201);
    const seen: string[] = [];
    const first = await api('GET', '/api/v1/repos?owner=dave&per_page=3');
    t.equal(first.headers.get('x-total-count'), '7');
    t.equal(first.body.length, 3);
    const link = first.headers.get('link') ?? '';
    t.match(link, /<\/api\/v1\/repos\?owner=dave&per_page=3&page=2>; rel="next"|<\/api\/v1\/repos\?[^>]*page=2[^>]*>; rel="next"/);
    t.match(link, /page=3[^>]*>; rel="last"/);
    t.notMatch(link, /rel="prev"/);
    t.match(link, /owner=dave/, 'filters are kept in the links');
    seen.push(...first.body.map((r: any) => r.name));
    // Follow rel="next" links like a client would.
    let next = /<([^>]+)>; rel="next"/.exec(link)?.[1];
    let pages = 1;
    while (next) {
      const page = await api('GET', next);
      t.equal(page.status, 200);
      seen.push(...page.body.map((r: any) => r.name));
      pages++;
      const pageLink = page.headers.get('link') ?? '';
      t.match(pageLink, /rel="prev"/);
      t.match(pageLink, /rel="first"/);
      next = /<([^>]+)>; rel="next"/.exec(pageLink)?.[1];
      if (pages > 5) break;
    }
    t.equal(pages, 3);
    t.same(seen.slice().sort(), ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'], 'every repo exactly once');
    const last = await api('GET', '/api/v1/repos?owner=dave&per_page=3&page=3');
    t.equal(last.body.length, 1);
    const beyond = await api('GET', '/api/v1/repos?owner=dave&per_page=3&page=9');
    t.equal(beyond.status, 200);
    t.same(beyond.body, []);
    t.equal(beyond.headers.get('x-total-count'), '7');
    const one = await api('GET', '/api/v1/repos?owner=dave&per_page=100');
    t.equal(one.headers.get('link'), null, 'no Link header when everything fits');
  });

  await t.test('GET one repository', async (t) => {
    const got = await api('GET', '/api/v1/repos/alice/digit-classifier');
    t.equal(got.status, 200);
    t.match(got.body, { owner: 'alice', name: 'digit-classifier', full_name: 'alice/digit-classifier', default_branch: 'main' });
    t.equal((await api('GET', '/api/v1/repos/ALICE/Digit-Classifier')).body.name, 'digit-classifier', 'case-insensitive lookup, canonical names');
    isError(t, await api('GET', '/api/v1/repos/bob/secret-model'), 401, 'unauthenticated');
    isError(t, await api('GET', '/api/v1/repos/bob/secret-model', { auth: alice.token }), 404, 'not_found');
    t.equal((await api('GET', '/api/v1/repos/bob/secret-model', { auth: bob.token })).status, 200);
    isError(t, await api('GET', '/api/v1/repos/alice/nope', { auth: alice.token }), 404, 'not_found');
    isError(t, await api('GET', '/api/v1/repos/nobody/nope', { auth: alice.token }), 404, 'not_found');
    // A missing repo and a private one look the same to anonymous callers.
    t.equal((await api('GET', '/api/v1/repos/alice/nope')).status, 401);
    for (const bad of ['%2e%2e/etc', 'alice/..%2f..%2fetc', 'alice/a%00b', 'a%00b/x', 'alice/a%20b', 'alice/%C3%BC', 'alice/x%5c..', `alice/${'x'.repeat(300)}`, `${'x'.repeat(300)}/y`]) {
      for (const auth of [alice.token, undefined]) {
        const response = await api('GET', `/api/v1/repos/${bad}`, { auth });
        t.ok(response.status >= 400 && response.status < 500, `${bad}: ${response.status}`);
        // 414 comes from the router before mlgit's error handler (see report): status only.
        if (response.status !== 414) t.type(response.body?.error?.code, 'string');
      }
      const browse = await api('GET', `/api/v1/repos/${bad}/tree/main`, { auth: alice.token });
      t.ok(browse.status >= 400 && browse.status < 500, `${bad}/tree: ${browse.status}`);
    }
  });

  await t.test('collaborators', async (t) => {
    const bobUrl = server.gitUrl('bob', 'secret-model', carol.tokenBasic);
    t.equal((await git.run(['ls-remote', bobUrl])).code === 0, false, 'carol cannot see the private repo');
    isError(t, await api('PUT', '/api/v1/repos/bob/secret-model/collaborators/carol', { auth: carol.token, body: { role: 'admin' } }), 404, 'not_found');

    t.equal((await api('PUT', '/api/v1/repos/bob/secret-model/collaborators/carol', { auth: bob.token, body: { role: 'read' } })).status, 204);
    const list = await api('GET', '/api/v1/repos/bob/secret-model/collaborators', { auth: bob.token });
    t.equal(list.status, 200);
    t.same(list.body, [{ username: 'carol', role: 'read' }]);
    t.equal((await api('GET', '/api/v1/repos/bob/secret-model', { auth: carol.token })).status, 200, 'read collaborator sees the repo');
    t.ok((await api('GET', '/api/v1/repos?per_page=100', { auth: carol.token })).body.some((r: any) => r.full_name === 'bob/secret-model'), 'and finds it in the list');
    t.equal((await git.run(['ls-remote', bobUrl])).code, 0, 'and can fetch');
    const clone = path.join(git.home, 'carol-secret');
    await git.ok(['clone', '-q', bobUrl, clone]);
    await git.commit(clone, { 'c.txt': 'carol\n' }, 'carol');
    const denied = await git.run(['push', 'origin', 'HEAD:main'], { cwd: clone });
    t.not(denied.code, 0, 'read collaborator cannot push');
    isError(t, await api('PATCH', '/api/v1/repos/bob/secret-model', { auth: carol.token, body: { description: 'x' } }), 403, 'forbidden');
    isError(t, await api('PUT', '/api/v1/repos/bob/secret-model/collaborators/dave', { auth: carol.token, body: { role: 'read' } }), 403, 'forbidden');

    t.equal((await api('PUT', '/api/v1/repos/bob/secret-model/collaborators/CAROL', { auth: bob.token, body: { role: 'write' } })).status, 204, 'upsert, case-insensitive user');
    t.same((await api('GET', '/api/v1/repos/bob/secret-model/collaborators', { auth: bob.token })).body, [{ username: 'carol', role: 'write' }]);
    const pushed = await git.run(['push', 'origin', 'HEAD:main'], { cwd: clone });
    t.equal(pushed.code, 0, `write collaborator can push: ${pushed.stderr}`);
    isError(t, await api('DELETE', '/api/v1/repos/bob/secret-model', { auth: carol.token }), 403, 'forbidden');

    isError(t, await api('PUT', '/api/v1/repos/bob/secret-model/collaborators/carol', { auth: bob.token, body: { role: 'owner' } }), 422, 'invalid');
    isError(t, await api('PUT', '/api/v1/repos/bob/secret-model/collaborators/nobody', { auth: bob.token, body: { role: 'read' } }), 404, 'not_found');
    isError(t, await api('PUT', '/api/v1/repos/bob/secret-model/collaborators/a%00b', { auth: bob.token, body: { role: 'read' } }), 404, 'not_found');
    isError(t, await api('DELETE', '/api/v1/repos/bob/secret-model/collaborators/a%00b', { auth: bob.token }), 404, 'not_found');
    isError(t, await api('PUT', '/api/v1/repos/bob/secret-model/collaborators/bob', { auth: bob.token, body: { role: 'read' } }), 422, 'invalid');
    const noRole = await api('PUT', '/api/v1/repos/bob/secret-model/collaborators/carol', { auth: bob.token, body: {} });
    t.ok(noRole.status === 400 || noRole.status === 422, `missing role: ${noRole.status}`);

    t.equal((await api('DELETE', '/api/v1/repos/bob/secret-model/collaborators/carol', { auth: bob.token })).status, 204);
    t.same((await api('GET', '/api/v1/repos/bob/secret-model/collaborators', { auth: bob.token })).body, []);
    isError(t, await api('GET', '/api/v1/repos/bob/secret-model', { auth: carol.token }), 404, 'not_found');
    t.not((await git.run(['ls-remote', bobUrl])).code, 0, 'access is gone for git too');
    isError(t, await api('DELETE', '/api/v1/repos/bob/secret-model/collaborators/carol', { auth: bob.token }), 404, 'not_found');
    isError(t, await api('GET', '/api/v1/repos/bob/secret-model/collaborators'), 401);
    isError(t, await api('GET', '/api/v1/repos/bob/secret-model/collaborators', { auth: carol.token }), 404);
  });

  await t.test('PATCH', async (t) => {
    const url = '/api/v1/repos/alice/digit-classifier';
    const patched = await api('PATCH', url, { auth: alice.token, body: { description: 'Digit classifier, now with more digits' } });
    t.equal(patched.status, 200);
    t.equal(patched.body.description, 'Digit classifier, now with more digits');
    t.equal((await api('GET', url)).body.description, 'Digit classifier, now with more digits');
    t.ok((await api('GET', '/api/v1/repos?q=more')).body.some((r: any) => r.name === 'digit-classifier'), 'search sees the new description');

    isError(t, await api('PATCH', url, { auth: bob.token, body: { description: 'hijacked' } }), 403, 'forbidden');
    isError(t, await api('PATCH', url, { body: { description: 'anon' } }), 401, 'unauthenticated');
    const readOnly = await api('POST', '/api/v1/user/tokens', { auth: alice.token, body: { name: 'ro', scopes: ['read'] } });
    isError(t, await api('PATCH', url, { auth: readOnly.body.token, body: { description: 'ro' } }), 403, 'forbidden');
    isError(t, await api('PATCH', url, { auth: await writeToken(alice), body: { description: 'rw' } }), 403, 'forbidden');
    t.equal((await api('PATCH', url, { auth: alice.basic, body: { description: 'Digit classifier, now with more digits' } })).status, 200, 'the password is the full user');
    for (const body of [{ description: 5 }, { description: 'a\0b' }, { private: 'yes' }, { default_branch: '../evil' }, { default_branch: 'a b' }, { default_branch: '-x' }, { default_branch: '' }, { description: 'x'.repeat(2001) }]) {
      const response = await api('PATCH', url, { auth: alice.token, body });
      t.ok(response.status === 422 || response.status === 400, `${JSON.stringify(body).slice(0, 40)}: ${response.status}`);
    }
    t.equal((await api('GET', url)).body.default_branch, 'main', 'failed patches changed nothing');

    // private: hidden from anonymous API and git, then public again.
    t.equal((await api('PATCH', url, { auth: alice.token, body: { private: true } })).body.private, true);
    t.equal((await api('GET', url)).status, 401);
    const anonClone = await git.run(['ls-remote', server.gitUrl('alice', 'digit-classifier')]);
    t.not(anonClone.code, 0, 'anonymous git is refused');
    t.equal((await api('GET', url, { auth: bob.token })).status, 404);
    t.equal((await api('PATCH', url, { auth: alice.token, body: { private: false } })).body.private, false);
    t.equal((await git.run(['ls-remote', server.gitUrl('alice', 'digit-classifier')])).code, 0);

    // default_branch: a fresh clone checks out that branch.
    const changed = await api('PATCH', url, { auth: alice.token, body: { default_branch: 'dev' } });
    t.equal(changed.status, 200);
    t.equal(changed.body.default_branch, 'dev');
    const fresh = path.join(git.home, 'fresh-dev');
    await git.ok(['clone', '-q', server.gitUrl('alice', 'digit-classifier'), fresh]);
    t.equal((await git.ok(['rev-parse', '--abbrev-ref', 'HEAD'], { cwd: fresh })).trim(), 'dev');
    t.equal((await git.ok(['rev-parse', 'HEAD'], { cwd: fresh })).trim(), devSha);
    t.equal(await fs.readFile(path.join(fresh, 'DEV.md'), 'utf8'), 'only on dev\n');
    // The API's default ref follows too.
    t.equal((await api('GET', '/api/v1/repos/alice/digit-classifier/commits?limit=1')).body[0]?.sha, devSha);
    t.equal((await api('PATCH', url, { auth: alice.token, body: { default_branch: 'main' } })).body.default_branch, 'main');
    const back = path.join(git.home, 'fresh-main');
    await git.ok(['clone', '-q', server.gitUrl('alice', 'digit-classifier'), back]);
    t.equal((await git.ok(['rev-parse', '--abbrev-ref', 'HEAD'], { cwd: back })).trim(), 'main');
  });

  await t.test('browse: refs and commits', async (t) => {
    const refs = await api('GET', '/api/v1/repos/alice/digit-classifier/refs');
    t.equal(refs.status, 200);
    const byName = Object.fromEntries(refs.body.map((r: any) => [r.ref, r]));
    t.same(Object.keys(byName).sort(), ['refs/heads/dev', 'refs/heads/feature/x', 'refs/heads/main', 'refs/tags/v1']);
    t.equal(byName['refs/heads/main'].sha, mainSha);
    t.equal(byName['refs/heads/dev'].sha, devSha);
    t.equal(byName['refs/heads/feature/x'].sha, firstSha);
    t.equal(byName['refs/tags/v1'].type, 'commit');

    const commits = await api('GET', '/api/v1/repos/alice/digit-classifier/commits?ref=main&limit=1');
    t.equal(commits.status, 200);
    t.equal(commits.body.length, 1);
    t.match(commits.body[0], { sha: mainSha, parents: [firstSha], message: 'commit 2', author: { name: 'Test User', email: 'test@example.com' } });
    const all = await api('GET', '/api/v1/repos/alice/digit-classifier/commits?ref=dev');
    t.same(all.body.map((c: any) => c.sha), [devSha, mainSha, firstSha], 'newest first');
    t.equal(all.body[2].parents.length, 0);
    t.same((await api('GET', '/api/v1/repos/alice/digit-classifier/commits?ref=v1')).body.map((c: any) => c.sha), [mainSha, firstSha], 'tags');
    t.same((await api('GET', `/api/v1/repos/alice/digit-classifier/commits?ref=${firstSha}`)).body.map((c: any) => c.sha), [firstSha], 'full sha');
    t.same((await api('GET', `/api/v1/repos/alice/digit-classifier/commits?ref=feature%2Fx`)).body.map((c: any) => c.sha), [firstSha], 'branch with a slash');
    t.equal((await api('GET', '/api/v1/repos/alice/digit-classifier/commits')).body[0].sha, mainSha, 'default branch by default');
    isError(t, await api('GET', '/api/v1/repos/alice/digit-classifier/commits?ref=nope'), 404, 'not_found');
    for (const ref of ['--all', '-n1', 'main..dev', 'HEAD%00', `${'a'.repeat(300)}`]) {
      const response = await api('GET', `/api/v1/repos/alice/digit-classifier/commits?ref=${ref}`);
      t.ok(response.status === 404 || response.status === 422, `ref ${ref.slice(0, 20)}: ${response.status}`);
    }
    for (const limit of ['0', '501', 'abc', '-1', '1.5']) isError(t, await api('GET', `/api/v1/repos/alice/digit-classifier/commits?limit=${limit}`), 422, 'invalid');

    // An empty repository has no refs and no commits.
    t.same((await api('GET', '/api/v1/repos/alice/mnist/refs')).body, []);
    isError(t, await api('GET', '/api/v1/repos/alice/mnist/commits'), 404, 'not_found');
    // Private repos: same rules as everything else.
    isError(t, await api('GET', '/api/v1/repos/bob/secret-model/refs'), 401);
    isError(t, await api('GET', '/api/v1/repos/bob/secret-model/commits', { auth: alice.token }), 404);
  });

  await t.test('browse: tree', async (t) => {
    const root = await api('GET', '/api/v1/repos/alice/digit-classifier/tree/main');
    t.equal(root.status, 200);
    t.same(root.body.map((e: any) => `${e.type} ${e.path}`).sort(), ['blob README.md', 'blob page.html', 'tree data', 'tree docs', 'tree src']);
    const readme = root.body.find((e: any) => e.name === 'README.md');
    t.equal(readme.size, '# digits\n'.length);
    t.equal(readme.mode, '100644');
    t.equal(root.body.find((e: any) => e.name === 'src').size, null);
    t.same((await api('GET', '/api/v1/repos/alice/digit-classifier/tree/main/')).body, root.body, 'trailing slash');

    const src = await api('GET', '/api/v1/repos/alice/digit-classifier/tree/main/src');
    t.equal(src.status, 200);
    t.same(src.body.map((e: any) => e.path), ['src/model.py']);
    const docs = await api('GET', `/api/v1/repos/alice/digit-classifier/tree/main/docs`);
    t.same(docs.body.map((e: any) => e.path), ['docs/hello wörld.txt'], 'unicode names are returned as they are');
    t.same((await api('GET', `/api/v1/repos/alice/digit-classifier/tree/${firstSha}`)).body.map((e: any) => e.name).sort(), ['README.md', 'src']);
    t.same((await api('GET', '/api/v1/repos/alice/digit-classifier/tree/dev')).body.map((e: any) => e.name).includes('DEV.md'), true);
    const slashed = await api('GET', '/api/v1/repos/alice/digit-classifier/tree/feature%2Fx/src');
    t.equal(slashed.status, 200, 'a branch with a slash, URL-encoded');
    t.same(slashed.body.map?.((e: any) => e.path), ['src/model.py']);

    isError(t, await api('GET', '/api/v1/repos/alice/digit-classifier/tree/main/nope'), 404, 'not_found');
    isError(t, await api('GET', '/api/v1/repos/alice/digit-classifier/tree/main/src/nope/deeper'), 404, 'not_found');
    isError(t, await api('GET', '/api/v1/repos/alice/digit-classifier/tree/main/README.md'), 404, 'not_found');
    isError(t, await api('GET', '/api/v1/repos/alice/digit-classifier/tree/nope'), 404, 'not_found');
    for (const bad of ['..', '%2e%2e', 'src/../..', 'src/%2e%2e/%2e%2e', 'src%2f..%2f..', 'a%00b', 'src//model.py', '.', 'src/./x', 'src\\..\\..']) {
      const response = await rawGet(server.url, `/api/v1/repos/alice/digit-classifier/tree/main/${bad}`);
      t.ok(response.status === 404 || response.status === 422 || response.status === 400, `${bad}: ${response.status}`);
      t.type(response.body?.error?.code, 'string');
    }
    isError(t, await api('GET', '/api/v1/repos/alice/mnist/tree/main'), 404, 'not_found');
  });

  await t.test('browse: blob', async (t) => {
    const blob = await fetch(`${server.url}/api/v1/repos/alice/digit-classifier/blob/main/data/weights.bin`);
    t.equal(blob.status, 200);
    t.ok(Buffer.from(await blob.arrayBuffer()).equals(BINARY), 'exact bytes');
    t.equal(blob.headers.get('x-content-type-options'), 'nosniff');
    t.equal(blob.headers.get('content-type'), 'application/octet-stream');
    t.equal(blob.headers.get('content-length'), String(BINARY.length));

    const html = await fetch(`${server.url}/api/v1/repos/alice/digit-classifier/blob/main/page.html`);
    t.equal(html.headers.get('content-type'), 'application/octet-stream', 'never served as HTML');
    t.equal(html.headers.get('x-content-type-options'), 'nosniff');
    t.equal(await html.text(), '<html><script>alert(1)</script></html>\n');

    const text = await fetch(`${server.url}/api/v1/repos/alice/digit-classifier/blob/${firstSha}/src/model.py`);
    t.equal(await text.text(), 'print("hi")\n');
    const unicode = await fetch(`${server.url}/api/v1/repos/alice/digit-classifier/blob/main/docs/${encodeURIComponent('hello wörld.txt')}`);
    t.equal(unicode.status, 200);
    t.equal(await unicode.text(), 'unicode path\n');

    isError(t, await api('GET', '/api/v1/repos/alice/digit-classifier/blob/main/nope.txt'), 404, 'not_found');
    isError(t, await api('GET', '/api/v1/repos/alice/digit-classifier/blob/main/src'), 404, 'not_found');
    isError(t, await api('GET', '/api/v1/repos/alice/digit-classifier/blob/main/DEV.md'), 404, 'not_found');
    t.equal((await api('GET', '/api/v1/repos/alice/digit-classifier/blob/dev/DEV.md')).body, 'only on dev\n');
    isError(t, await api('GET', '/api/v1/repos/alice/digit-classifier/blob/nope/README.md'), 404, 'not_found');
    const rootBlob = await api('GET', '/api/v1/repos/alice/digit-classifier/blob/main/');
    t.ok(rootBlob.status === 404 || rootBlob.status === 422, `blob of the root: ${rootBlob.status}`);
    for (const bad of ['../../HEAD', '%2e%2e/%2e%2e/HEAD', 'src/%2e%2e/README.md', 'src/../README.md', './README.md', 'a%00b', '..%2f..%2fconfig']) {
      const response = await rawGet(server.url, `/api/v1/repos/alice/digit-classifier/blob/main/${bad}`);
      t.ok(response.status === 404 || response.status === 422 || response.status === 400, `${bad}: ${response.status}`);
    }
    isError(t, await api('GET', '/api/v1/repos/bob/secret-model/blob/main/README.md'), 401);
    isError(t, await api('GET', '/api/v1/repos/bob/secret-model/blob/main/README.md', { auth: alice.token }), 404);
  });

  await t.test('fork', async (t) => {
    const forked = await api('POST', '/api/v1/repos/alice/digit-classifier/forks', { auth: bob.token });
    t.equal(forked.status, 201, JSON.stringify(forked.body));
    const parent = (await api('GET', '/api/v1/repos/alice/digit-classifier')).body;
    t.match(forked.body, { owner: 'bob', name: 'digit-classifier', fork_parent_id: parent.id, private: false, kind: 'model', default_branch: 'main', clone_url: `${server.url}/bob/digit-classifier.git` });
    t.equal(forked.body.description, parent.description);
    t.equal((await api('GET', '/api/v1/repos/bob/digit-classifier')).body.fork_parent_id, parent.id);

    // Same history and refs as the parent.
    const parentRefs = await ls(server.gitUrl('alice', 'digit-classifier'));
    const forkRefs = await ls(server.gitUrl('bob', 'digit-classifier'));
    t.equal(forkRefs.replace(/^.*\tHEAD\n/m, ''), parentRefs.replace(/^.*\tHEAD\n/m, ''), 'same refs');
    const forkClone = path.join(git.home, 'bob-fork');
    await git.ok(['clone', '-q', server.gitUrl('bob', 'digit-classifier', bob.tokenBasic), forkClone]);
    t.equal((await git.ok(['rev-parse', 'HEAD'], { cwd: forkClone })).trim(), mainSha);
    t.equal((await git.ok(['rev-parse', 'HEAD'], { cwd: forkClone })).trim(), mainSha);

    // Pushing to the fork leaves the parent alone.
    const forkSha = await git.commit(forkClone, { 'bob.txt': 'bob\n' }, 'bob on fork');
    await git.ok(['push', '-q', 'origin', 'main', 'main:refs/heads/bob-branch'], { cwd: forkClone });
    t.match(await ls(server.gitUrl('bob', 'digit-classifier')), new RegExp(`${forkSha}\trefs/heads/main`));
    const parentAfter = await ls(server.gitUrl('alice', 'digit-classifier'));
    t.equal(parentAfter, parentRefs, 'parent refs unchanged');
    t.notMatch(parentAfter, forkSha);
    const fsck = await server.services.git.fsck(parent.id);
    t.ok(fsck.ok, fsck.output);

    isError(t, await api('POST', '/api/v1/repos/alice/digit-classifier/forks', { auth: bob.token }), 409, 'conflict');
    const named = await api('POST', '/api/v1/repos/alice/digit-classifier/forks', { auth: bob.token, body: { name: 'digits-2' } });
    t.equal(named.status, 201);
    t.equal(named.body.name, 'digits-2');
    isError(t, await api('POST', '/api/v1/repos/alice/digit-classifier/forks', { auth: bob.token, body: { name: '../x' } }), 422, 'invalid');
    isError(t, await api('POST', '/api/v1/repos/alice/digit-classifier/forks'), 401, 'unauthenticated');
    const readOnly = await api('POST', '/api/v1/user/tokens', { auth: carol.token, body: { name: 'ro', scopes: ['read'] } });
    isError(t, await api('POST', '/api/v1/repos/alice/digit-classifier/forks', { auth: readOnly.body.token }), 403, 'forbidden');
    isError(t, await api('POST', '/api/v1/repos/alice/nope/forks', { auth: carol.token }), 404, 'not_found');

    // A private repo: outsiders get 404, a collaborator's fork stays private.
    isError(t, await api('POST', '/api/v1/repos/bob/secret-model/forks', { auth: carol.token }), 404, 'not_found');
    t.equal((await api('GET', '/api/v1/repos/carol/secret-model', { auth: carol.token })).status, 404, 'nothing was created');
    await api('PUT', '/api/v1/repos/bob/secret-model/collaborators/carol', { auth: bob.token, body: { role: 'read' } });
    const privateFork = await api('POST', '/api/v1/repos/bob/secret-model/forks', { auth: carol.token });
    t.equal(privateFork.status, 201);
    t.equal(privateFork.body.private, true, 'a fork of a private repo is private');
    t.equal((await api('GET', '/api/v1/repos/carol/secret-model')).status, 401);

    // A fork of an empty repository works and can be pushed to.
    const emptyFork = await api('POST', '/api/v1/repos/alice/mnist/forks', { auth: carol.token });
    t.equal(emptyFork.status, 201, JSON.stringify(emptyFork.body));
    const emptyWork = await git.workRepo('empty-fork-work');
    await git.ok(['push', '-q', server.gitUrl('carol', 'mnist', carol.tokenBasic), 'main'], { cwd: emptyWork });
    t.same((await api('GET', '/api/v1/repos/alice/mnist/refs')).body, [], 'the empty parent stays empty');

    // Deleting the parent leaves the fork complete.
    const parentDir = repoDir(server.dataDir, parent.id);
    t.equal((await api('DELETE', '/api/v1/repos/alice/digit-classifier', { auth: alice.token })).status, 204);
    t.notOk(await exists(parentDir), 'parent is gone from disk');
    const afterDelete = path.join(git.home, 'fork-after-parent-delete');
    const cloned = await git.run(['clone', '-q', server.gitUrl('bob', 'digit-classifier'), afterDelete]);
    t.equal(cloned.code, 0, cloned.stderr);
    t.equal((await git.ok(['rev-parse', 'HEAD'], { cwd: afterDelete })).trim(), forkSha);
    t.equal((await fs.readFile(path.join(afterDelete, 'data', 'weights.bin'))).equals(BINARY), true, 'objects from the parent are still there');
    const forkFsck = await server.services.git.fsck(forked.body.id);
    t.ok(forkFsck.ok, forkFsck.output);
    t.equal((await api('GET', '/api/v1/repos/bob/digit-classifier')).body.fork_parent_id, null, 'the parent link is cleared');
    t.equal((await api('GET', '/api/v1/repos/bob/digit-classifier/blob/main/bob.txt')).body, 'bob\n');
  });

  await t.test('DELETE', async (t) => {
    const created = await api('POST', '/api/v1/repos', { auth: carol.token, body: { name: 'doomed', description: 'doomed repo' } });
    const dir = repoDir(server.dataDir, created.body.id);
    const work2 = await git.workRepo('doomed-work', [{ 'f.txt': 'doomed\n' }]);
    await git.ok(['push', '-q', server.gitUrl('carol', 'doomed', carol.tokenBasic), 'main'], { cwd: work2 });
    t.ok(await exists(dir));

    isError(t, await api('DELETE', '/api/v1/repos/carol/doomed'), 401, 'unauthenticated');
    isError(t, await api('DELETE', '/api/v1/repos/carol/doomed', { auth: alice.token }), 403, 'forbidden');
    const readOnly = await api('POST', '/api/v1/user/tokens', { auth: carol.token, body: { name: 'ro2', scopes: ['read'] } });
    isError(t, await api('DELETE', '/api/v1/repos/carol/doomed', { auth: readOnly.body.token }), 403, 'forbidden');
    isError(t, await api('DELETE', '/api/v1/repos/carol/doomed', { auth: await writeToken(carol) }), 403, 'forbidden');
    t.ok(await exists(dir), 'still there after refused deletes');

    t.equal((await api('DELETE', '/api/v1/repos/carol/doomed', { auth: carol.token })).status, 204);
    t.notOk(await exists(dir), 'gone from disk');
    isError(t, await api('GET', '/api/v1/repos/carol/doomed', { auth: carol.token }), 404, 'not_found');
    t.notOk((await api('GET', '/api/v1/repos?q=doomed')).body.length, 'gone from search');
    const clone = await git.run(['clone', '-q', server.gitUrl('carol', 'doomed', carol.tokenBasic), path.join(git.home, 'doomed-clone')]);
    t.not(clone.code, 0, 'git clone fails');
    isError(t, await api('DELETE', '/api/v1/repos/carol/doomed', { auth: carol.token }), 404, 'not_found');

    // The name can be reused, and the new repo starts empty.
    const again = await api('POST', '/api/v1/repos', { auth: carol.token, body: { name: 'doomed' } });
    t.equal(again.status, 201);
    t.same((await api('GET', '/api/v1/repos/carol/doomed/refs')).body, []);
    // A site admin may delete anyone's repo.
    t.equal((await api('DELETE', '/api/v1/repos/carol/doomed', { auth: admin })).status, 204);
  });
});
