// Who may read and push what (protocols.md, "Git smart HTTP" / Auth), checked three ways per
// actor and repo: raw smart-HTTP status codes, the real git client (clone + push), and the REST API.
import t, { type Test } from 'tap';
import fs from 'node:fs/promises';
import path from 'node:path';
import { GitClient, type GitResult } from './helpers/git-client.ts';
import { startServer, type TestServer } from './helpers/server.ts';

type Status = 200 | 401 | 403 | 404;
type Visibility = 'public' | 'private';

const REALM = 'Basic realm="mlgit"';
const ERROR_CODE: Record<number, string> = { 401: 'unauthenticated', 403: 'forbidden', 404: 'not_found', 429: 'rate_limited' };

/** What the real git client prints for each refusal (git 2.39, no terminal prompts). */
function gitRefusal(status: Exclude<Status, 200>, anonymous: boolean): RegExp {
  if (status === 401) return anonymous ? /could not read Username .*terminal prompts disabled/ : /Authentication failed for/;
  if (status === 403) return /The requested URL returned error: 403/;
  return /repository '.*' not found/;
}

function basic(auth: string): string {
  return `Basic ${Buffer.from(auth).toString('base64')}`;
}

/** A raw smart-HTTP request as git's first request would be, optionally with Basic credentials. */
async function infoRefs(server: TestServer, repoPath: string, service: 'git-upload-pack' | 'git-receive-pack', auth: string | null, rawHeader?: string) {
  const authorization = rawHeader ?? (auth ? basic(auth) : undefined);
  const response = await fetch(`${server.url}/${repoPath}/info/refs?service=${service}`, { headers: authorization ? { authorization } : {} });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, body };
}

/** Asserts a refusal's exact shape: status, `{error:{code,message}}`, and the Basic challenge on 401 only. */
function assertRefusal(t: Test, got: { status: number; headers: Headers; body: unknown }, status: number, what: string) {
  t.equal(got.status, status, `${what}: status`);
  const body = typeof got.body === 'string' || Buffer.isBuffer(got.body) ? JSON.parse(got.body.toString()) : got.body;
  t.same(Object.keys(body ?? {}), ['error'], `${what}: JSON error body`);
  t.same(Object.keys(body?.error ?? {}).sort(), ['code', 'message'], `${what}: error has code and message`);
  t.equal(body?.error?.code, ERROR_CODE[status], `${what}: error code`);
  t.type(body?.error?.message, 'string', `${what}: error message`);
  t.equal(got.headers.get('www-authenticate'), status === 401 ? REALM : null, `${what}: WWW-Authenticate`);
  if (status !== 429) t.equal(got.headers.get('retry-after'), null, `${what}: no Retry-After`);
}

t.test('access matrix: actors x public/private repos over smart HTTP, the real git client and the REST API', async (t) => {
  // Plenty of failed sign-ins happen here on purpose; the limiter has a test of its own below.
  const server = await startServer(t, { config: { authFailures: { max: 1000, windowSeconds: 60 } } });
  const git = await GitClient.create(t);

  const [owner, reader, writer, maintainer, stranger] = await Promise.all(['owner', 'reader', 'writer', 'maintainer', 'stranger'].map((name) => server.user(name)));
  const readOnly = await server.api('POST', '/api/v1/user/tokens', { auth: owner!.basic, body: { name: 'read-only', scopes: ['read'] } });
  t.equal(readOnly.status, 201);
  t.same(readOnly.body.scopes, ['read']);
  // Setup calls go through an admin-scoped token: a password costs a scrypt per request.
  const setup = await server.api('POST', '/api/v1/user/tokens', { auth: owner!.basic, body: { name: 'setup', scopes: ['admin'] } });
  t.equal(setup.status, 201);
  const ownerAdmin = `owner:${setup.body.token}`;

  const repos: Record<Visibility, string> = { public: 'pub', private: 'priv' };
  const seed = await git.workRepo('seed', [{ 'README.md': '# seeded\n' }]);
  for (const [visibility, name] of Object.entries(repos)) {
    const created = await server.api('POST', '/api/v1/repos', { auth: ownerAdmin, body: { name, private: visibility === 'private' } });
    t.equal(created.status, 201, `create ${visibility} repo`);
    await git.ok(['push', '-q', server.gitUrl('owner', name, owner!.tokenBasic), 'main'], { cwd: seed });
    for (const [user, role] of [
      [reader!, 'read'],
      [writer!, 'write'],
      [maintainer!, 'admin'],
    ] as const) {
      const set = await server.api('PUT', `/api/v1/repos/owner/${name}/collaborators/${user.username}`, { auth: ownerAdmin, body: { role } });
      t.equal(set.status, 204, `${user.username} is ${role} collaborator on ${name}`);
    }
  }

  // Expected outcome per actor: [read public, push public, read private, push private].
  const actors: { name: string; auth: string | null; expect: [Status, Status, Status, Status] }[] = [
    { name: 'anonymous', auth: null, expect: [200, 401, 401, 401] },
    { name: 'owner (password)', auth: owner!.basic, expect: [200, 200, 200, 200] },
    { name: 'owner read-only token', auth: `owner:${readOnly.body.token}`, expect: [200, 403, 200, 403] },
    { name: 'owner read+write token', auth: owner!.tokenBasic, expect: [200, 200, 200, 200] },
    { name: 'collaborator read (read+write token)', auth: reader!.tokenBasic, expect: [200, 403, 200, 403] },
    { name: 'collaborator write (token)', auth: writer!.tokenBasic, expect: [200, 200, 200, 200] },
    { name: 'collaborator admin (token)', auth: maintainer!.tokenBasic, expect: [200, 200, 200, 200] },
    { name: 'unrelated user (token)', auth: stranger!.tokenBasic, expect: [200, 403, 404, 404] },
    { name: 'site admin', auth: `${server.admin.username}:${server.admin.password}`, expect: [200, 200, 200, 200] },
  ];

  // Each (actor, repo) pair is observed first, three at a time (pushes run git hooks: seconds
  // each), then asserted in table order.
  const rows = actors.flatMap((actor, i) =>
    (['public', 'private'] as const).map((visibility) => {
      const [read, write] = visibility === 'public' ? [actor.expect[0], actor.expect[1]] : [actor.expect[2], actor.expect[3]];
      return { actor, visibility, read, write, name: repos[visibility], slug: `by-${i + 1}-${visibility}` };
    }),
  );
  const observe = async (row: (typeof rows)[number]) => {
    const { actor, visibility, name, slug } = row;
    // 1. Raw smart HTTP, as git's first (credential-less or credentialed) request.
    const upload = await infoRefs(server, `owner/${name}.git`, 'git-upload-pack', actor.auth);
    const receive = await infoRefs(server, `owner/${name}.git`, 'git-receive-pack', actor.auth);
    // 2. REST API: the same read decision.
    const rest = await server.api('GET', `/api/v1/repos/owner/${name}`, { auth: actor.auth ?? undefined });
    // 3. The real git client: clone, then push a new commit to a branch of its own.
    const url = server.gitUrl('owner', name, actor.auth ?? undefined);
    const dir = path.join(git.home, `clone-${slug}`);
    const clone = await git.run(['clone', '-q', url, dir]);
    const readme = await fs.readFile(path.join(dir, 'README.md'), 'utf8').catch(() => null);
    const sha = (await git.ok(['commit-tree', '-p', 'main', '-m', `${actor.name} -> ${visibility}`, 'main^{tree}'], { cwd: seed })).trim();
    const push: GitResult = await git.run(['push', url, `${sha}:refs/heads/${slug}`], { cwd: seed });
    return { upload, receive, rest, clone, readme, sha, push };
  };
  const observations = new Map<(typeof rows)[number], Awaited<ReturnType<typeof observe>>>();
  const queue = [...rows];
  await Promise.all(
    [1, 2, 3].map(async () => {
      for (let row = queue.shift(); row; row = queue.shift()) observations.set(row, await observe(row));
    }),
  );

  const pushed: Record<Visibility, Map<string, string>> = { public: new Map(), private: new Map() };
  for (const row of rows) {
    const { actor, visibility, read, write, name, slug } = row;
    const seen = observations.get(row)!;
    await t.test(`${actor.name} on the ${visibility} repo: read ${read}, push ${write}`, async (t) => {
      for (const [service, status, got] of [
        ['git-upload-pack', read, seen.upload],
        ['git-receive-pack', write, seen.receive],
      ] as const) {
        if (status === 200) {
          const preamble = `# service=${service}\n`;
          t.equal(got.status, 200, `${service}: status`);
          t.equal(got.headers.get('content-type'), `application/x-${service}-advertisement`, `${service}: content type`);
          t.match(got.headers.get('cache-control') ?? '', /\bno-cache\b/, `${service}: not cached`);
          t.equal(got.body.subarray(0, preamble.length + 8).toString(), `${(preamble.length + 4).toString(16).padStart(4, '0')}${preamble}0000`, `${service}: advertisement`);
        } else {
          assertRefusal(t, got, status, service);
        }
      }

      if (read === 200) {
        t.equal(seen.rest.status, 200, 'REST status');
        t.match(seen.rest.body, { full_name: `owner/${name}`, private: visibility === 'private' }, 'REST body');
      } else {
        assertRefusal(t, seen.rest, read, 'REST');
      }

      if (read === 200) {
        t.equal(seen.clone.code, 0, `clone works: ${seen.clone.stderr}`);
        t.equal(seen.readme, '# seeded\n', 'clone has the content');
      } else {
        t.not(seen.clone.code, 0, 'clone refused');
        t.match(seen.clone.stderr, gitRefusal(read, actor.auth === null), 'git explains the refused clone');
        t.equal(seen.readme, null, 'nothing was cloned');
      }

      if (write === 200) {
        t.equal(seen.push.code, 0, `push works: ${seen.push.stderr}`);
        pushed[visibility].set(`refs/heads/${slug}`, seen.sha);
      } else {
        t.not(seen.push.code, 0, 'push refused');
        t.match(seen.push.stderr, gitRefusal(write, actor.auth === null), 'git explains the refused push');
      }
    });
  }

  await t.test('exactly the allowed pushes landed', async (t) => {
    for (const visibility of ['public', 'private'] as const) {
      const refs = await server.api('GET', `/api/v1/repos/owner/${repos[visibility]}/refs`, { auth: ownerAdmin });
      t.equal(refs.status, 200);
      const branches = new Map<string, string>(refs.body.filter((r: { ref: string }) => r.ref !== 'refs/heads/main').map((r: { ref: string; sha: string }) => [r.ref, r.sha]));
      t.same([...branches].sort(), [...pushed[visibility]].sort(), `${visibility}: one branch per allowed push`);
      t.equal(pushed[visibility].size, 5, `${visibility}: five actors may push`);
    }
  });

  await t.test('existence does not leak: a missing repo answers exactly like a private one', async (t) => {
    for (const [who, auth, status] of [
      ['anonymous', null, 401],
      ['unrelated user', stranger!.basic, 404],
    ] as const) {
      for (const service of ['git-upload-pack', 'git-receive-pack'] as const) {
        const hidden = await infoRefs(server, 'owner/priv.git', service, auth);
        const missing = await infoRefs(server, 'owner/does-not-exist.git', service, auth);
        t.equal(hidden.status, status, `${who} ${service}: private`);
        t.equal(missing.status, status, `${who} ${service}: missing`);
        t.same(JSON.parse(missing.body.toString()), JSON.parse(hidden.body.toString()), `${who} ${service}: same body`);
        t.equal(missing.headers.get('www-authenticate'), hidden.headers.get('www-authenticate'), `${who} ${service}: same challenge`);
      }
    }
  });

  await t.test('names are case-insensitive, and so are the decisions', async (t) => {
    for (const [who, auth, status] of [
      ['anonymous', null, 401],
      ['unrelated user', stranger!.basic, 404],
      ['collaborator read', reader!.basic, 200],
    ] as const) {
      for (const repoPath of ['OWNER/PRIV.git', 'Owner/Priv.GIT', 'owner/PRIV']) {
        const got = await infoRefs(server, repoPath, 'git-upload-pack', auth);
        if (status === 200) t.equal(got.status, 200, `${who} on ${repoPath}`);
        else assertRefusal(t, { status: got.status, headers: got.headers, body: got.body }, status, `${who} on ${repoPath}`);
      }
    }
  });

  await t.test('bad credentials are 401 even where anonymous may read', async (t) => {
    const cases: [string, string][] = [
      ['wrong password', 'owner:not-the-password'],
      ['unknown user', 'nobody-here:some-password'],
      ["another user's token", `stranger:${owner!.token}`],
      ['empty password', 'owner:'],
    ];
    for (const [what, auth] of cases) {
      for (const repoPath of ['owner/pub.git', 'owner/priv.git']) {
        const got = await infoRefs(server, repoPath, 'git-upload-pack', auth);
        assertRefusal(t, { status: got.status, headers: got.headers, body: got.body }, 401, `${what} on ${repoPath}`);
      }
      const rest = await server.api('GET', '/api/v1/repos/owner/pub', { auth });
      assertRefusal(t, rest, 401, `${what} on the REST API`);
    }
    const revoked = await server.api('POST', '/api/v1/user/tokens', { auth: ownerAdmin, body: { name: 'soon revoked', scopes: ['read', 'write'] } });
    t.equal(revoked.status, 201);
    t.equal((await server.api('DELETE', `/api/v1/user/tokens/${revoked.body.id}`, { auth: ownerAdmin })).status, 204);
    const headers: [string, string][] = [
      ['revoked token', basic(`owner:${revoked.body.token}`)],
      ['Basic without a colon', basic('owner')],
      ['Basic with an empty user', basic(':owner-password')],
      ['Basic that is not base64', 'Basic !!!not-base64!!!'],
      ['unknown scheme', 'Digest username="owner"'],
      ['Bearer garbage', 'Bearer not-a-token-nor-a-jwt'],
    ];
    for (const [what, header] of headers) {
      const got = await infoRefs(server, 'owner/priv.git', 'git-upload-pack', null, header);
      assertRefusal(t, { status: got.status, headers: got.headers, body: got.body }, 401, what);
    }
    // A Bearer token works for git too (git sends it with http.extraHeader).
    const bearer = await infoRefs(server, 'owner/priv.git', 'git-receive-pack', null, `Bearer ${owner!.token}`);
    t.equal(bearer.status, 200, 'Bearer token');

    const clone = await git.run(['clone', '-q', server.gitUrl('owner', 'priv', 'owner:not-the-password'), path.join(git.home, 'wrong-password')]);
    t.not(clone.code, 0);
    t.match(clone.stderr, /Authentication failed for/);
    const push = await git.run(['push', server.gitUrl('owner', 'pub', 'owner:not-the-password'), 'main:refs/heads/never'], { cwd: seed });
    t.not(push.code, 0);
    t.match(push.stderr, /Authentication failed for/);
  });

  await t.test('a credential helper answers the 401 and the clone of a private repo works', async (t) => {
    const log = path.join(git.home, 'helper.log');
    const helper = async (file: string, password: string) => {
      await fs.writeFile(file, `#!/bin/sh\necho "$1" >> '${log}'\nif [ "$1" = get ]; then echo username=reader; echo password=${password}; fi\n`, { mode: 0o755 });
      return file;
    };
    const good = await helper(path.join(git.home, 'good-helper.sh'), 'reader-password');
    const dir = path.join(git.home, 'via-helper');
    const clone = await git.run(['-c', `credential.helper=${good}`, 'clone', server.gitUrl('owner', 'priv'), dir], { env: { GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' } });
    t.equal(clone.code, 0, clone.stderr.slice(-2000));
    t.equal(await fs.readFile(path.join(dir, 'README.md'), 'utf8'), '# seeded\n');
    const statuses = [...clone.stderr.matchAll(/<= Recv header: HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    t.same(statuses.slice(0, 2), [401, 200], 'first request anonymous -> 401, retried with the helper credentials -> 200');
    t.same((await fs.readFile(log, 'utf8')).trim().split('\n'), ['get', 'store'], 'helper asked once, then told to store');

    await fs.rm(log);
    const bad = await helper(path.join(git.home, 'bad-helper.sh'), 'wrong-password');
    const refused = await git.run(['-c', `credential.helper=${bad}`, 'ls-remote', server.gitUrl('owner', 'priv')]);
    t.not(refused.code, 0);
    t.match(refused.stderr, /Authentication failed for/);
    t.same((await fs.readFile(log, 'utf8')).trim().split('\n'), ['get', 'erase'], 'rejected credentials are erased from the helper');
  });
});

t.test('too many failed sign-ins for one account from one address -> 429 with Retry-After', async (t) => {
  const server = await startServer(t, { config: { authFailures: { max: 3, windowSeconds: 60 } } });
  const git = await GitClient.create(t);
  const carol = await server.user('carol');
  for (const [name, isPrivate] of [
    ['open', false],
    ['closed', true],
  ] as const) {
    t.equal((await server.api('POST', '/api/v1/repos', { auth: carol.basic, body: { name, private: isPrivate } })).status, 201);
  }

  for (let i = 1; i <= 3; i++) {
    const got = await infoRefs(server, 'carol/closed.git', 'git-upload-pack', 'carol:wrong-password');
    assertRefusal(t, { status: got.status, headers: got.headers, body: got.body }, 401, `failure ${i}`);
  }
  // From this address carol's password is refused, right or wrong (no oracle for the guesser)...
  const cases: [string, string, string][] = [
    ['wrong password again', 'carol:wrong-password', 'carol/closed.git'],
    ['even the right password', carol.basic, 'carol/closed.git'],
  ];
  for (const [what, auth, repoPath] of cases) {
    for (const service of ['git-upload-pack', 'git-receive-pack'] as const) {
      const got = await infoRefs(server, repoPath, service, auth);
      assertRefusal(t, { status: got.status, headers: got.headers, body: got.body }, 429, `${what} (${service})`);
      const retryAfter = Number(got.headers.get('retry-after'));
      t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `${what}: Retry-After ${got.headers.get('retry-after')} is 1-60 s`);
    }
  }
  const rest = await server.api('GET', '/api/v1/repos/carol/open', { auth: carol.basic });
  assertRefusal(t, rest, 429, 'REST API');

  const lsRemote = await git.run(['ls-remote', server.gitUrl('carol', 'closed', carol.basic)]);
  t.not(lsRemote.code, 0, 'the real client is refused too');
  t.match(lsRemote.stderr, /The requested URL returned error: 429/);

  // ...but credentials that cannot be guessed, and other accounts, are never refused.
  t.equal((await infoRefs(server, 'carol/closed.git', 'git-upload-pack', carol.tokenBasic)).status, 200, 'a valid token still works');
  const dave = await server.user('dave');
  t.equal((await server.api('GET', '/api/v1/user', { auth: dave.basic })).status, 200, "another account's password from the same address still works");

  // Requests without credentials are not refused: anonymous reads of a public repo still work.
  const anonymous = await infoRefs(server, 'carol/open.git', 'git-upload-pack', null);
  t.equal(anonymous.status, 200);
  const clone = await git.run(['clone', '-q', server.gitUrl('carol', 'open'), path.join(git.home, 'anon')]);
  t.equal(clone.code, 0, clone.stderr);
  t.equal((await server.api('GET', '/healthz')).status, 200);
});
