import t from 'tap';
import fs from 'node:fs/promises';
import path from 'node:path';
import { GitClient } from './helpers/git-client.ts';
import { startServer } from './helpers/server.ts';

t.test('git smart HTTP with the real git client', async (t) => {
  const server = await startServer(t);
  const git = await GitClient.create(t);
  const alice = await server.user('alice');
  const created = await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'model' } });
  t.equal(created.status, 201);
  const pushUrl = server.gitUrl('alice', 'model', alice.tokenBasic);
  const anonUrl = server.gitUrl('alice', 'model');

  await t.test('clone of an empty repository', async (t) => {
    const result = await git.run(['clone', anonUrl, path.join(git.home, 'empty')]);
    t.equal(result.code, 0, result.stderr);
    t.match(result.stderr, /empty repository/);
  });

  const work = await git.workRepo('work', [{ 'a.txt': 'one\n' }, { 'b.txt': 'two\n' }]);
  await git.ok(['remote', 'add', 'origin', pushUrl], { cwd: work });

  await t.test('no cache, HTTP/1.0 proxies included, keeps a ref advertisement or a pack answer', async (t) => {
    const auth = { authorization: `Basic ${Buffer.from(alice.tokenBasic).toString('base64')}` };
    for (const service of ['git-upload-pack', 'git-receive-pack']) {
      const response = await fetch(`${server.url}/alice/model.git/info/refs?service=${service}`, { headers: auth });
      t.equal(response.status, 200, service);
      t.equal(response.headers.get('pragma'), 'no-cache', `${service}: Pragma`);
      t.equal(response.headers.get('expires'), 'Fri, 01 Jan 1980 00:00:00 GMT', `${service}: Expires`);
      t.match(response.headers.get('cache-control'), /no-cache/, `${service}: Cache-Control`);
      await response.arrayBuffer();
    }
  });

  await t.test('push, then clone over v2 and v0', async (t) => {
    const push = await git.run(['push', 'origin', 'main'], { cwd: work });
    t.equal(push.code, 0, push.stderr);
    for (const version of ['2', '0']) {
      const dir = path.join(git.home, `clone-v${version}`);
      const trace = await git.run(['-c', `protocol.version=${version}`, 'clone', anonUrl, dir], { env: { GIT_TRACE_PACKET: '1' } });
      t.equal(trace.code, 0, trace.stderr.slice(-2000));
      t.equal(version === '2', /version 2/.test(trace.stderr), `protocol v${version} negotiated`);
      t.equal(await fs.readFile(path.join(dir, 'b.txt'), 'utf8'), 'two\n');
    }
  });

  await t.test('fetch new commits, a second branch, tags, delete a branch', async (t) => {
    const clone = path.join(git.home, 'clone-v2');
    const sha = await git.commit(work, { 'c.txt': 'three\n' }, 'third');
    await git.ok(['push', 'origin', 'main'], { cwd: work });
    await git.ok(['fetch', 'origin'], { cwd: clone });
    t.equal((await git.ok(['rev-parse', 'origin/main'], { cwd: clone })).trim(), sha);

    await git.ok(['push', 'origin', 'main:refs/heads/feature', 'HEAD:refs/tags/v1'], { cwd: work });
    await git.ok(['tag', '-a', 'v2', '-m', 'annotated'], { cwd: work });
    await git.ok(['push', 'origin', 'v2'], { cwd: work });
    const refs = await server.api('GET', '/api/v1/repos/alice/model/refs');
    t.same(
      refs.body.map((r: { ref: string }) => r.ref).sort(),
      ['refs/heads/feature', 'refs/heads/main', 'refs/tags/v1', 'refs/tags/v2'],
    );
    await git.ok(['push', 'origin', '--delete', 'feature'], { cwd: work });
    const after = await git.ok(['ls-remote', anonUrl]);
    t.notMatch(after, /refs\/heads\/feature/);
  });

  await t.test('non-fast-forward is rejected; force is allowed on unprotected branches', async (t) => {
    const other = path.join(git.home, 'other');
    await git.ok(['clone', pushUrl, other]);
    await git.commit(other, { 'x.txt': 'x\n' }, 'from other');
    await git.ok(['push', 'origin', 'main'], { cwd: other });
    await git.commit(work, { 'y.txt': 'y\n' }, 'diverged');
    const rejected = await git.run(['push', 'origin', 'main'], { cwd: work });
    t.not(rejected.code, 0);
    t.match(rejected.stderr, /rejected|non-fast-forward|fetch first/);
    const forced = await git.run(['push', '--force', 'origin', 'main'], { cwd: work });
    t.equal(forced.code, 0, forced.stderr);
  });

  await t.test('protected branch: force push and delete rejected with remote: lines', async (t) => {
    const patched = await server.api('PATCH', '/api/v1/repos/alice/model', { auth: alice.basic, body: { protected_branches: ['main', 'release/*'] } });
    t.equal(patched.status, 200);
    t.same(patched.body.protected_branches, ['main', 'release/*']);
    await git.ok(['reset', '-q', '--hard', 'HEAD~1'], { cwd: work });
    await git.commit(work, { 'z.txt': 'z\n' }, 'rewrite');
    const forced = await git.run(['push', '--force', 'origin', 'main'], { cwd: work });
    t.not(forced.code, 0);
    t.match(forced.stderr, /remote: error: refs\/heads\/main: branch "main" is protected: force pushes are not allowed/);
    t.match(forced.stderr, /pre-receive hook declined/);
    const deleted = await git.run(['push', 'origin', '--delete', 'main'], { cwd: work });
    t.not(deleted.code, 0);
    t.match(deleted.stderr, /remote: error: refs\/heads\/main: branch "main" is protected: it cannot be deleted/);
    const ff = path.join(git.home, 'ff');
    await git.ok(['clone', pushUrl, ff]);
    await git.commit(ff, { 'ok.txt': 'fast-forward\n' }, 'fast forward');
    const pushed = await git.run(['push', 'origin', 'main', 'main:refs/heads/release/1'], { cwd: ff });
    t.equal(pushed.code, 0, 'fast-forwards to protected branches are fine: ' + pushed.stderr);
  });

  await t.test('server-owned refs cannot be pushed', async (t) => {
    for (const ref of ['refs/notes/mlproject', 'refs/mlgit/runs/1']) {
      const result = await git.run(['push', 'origin', `HEAD:${ref}`], { cwd: path.join(git.home, 'ff') });
      t.not(result.code, 0, ref);
      t.match(result.stderr, /owned by mlgit/, ref);
    }
  });

  await t.test('post-receive recorded the pushes', async (t) => {
    const rows = await server.services.db.selectFrom('pushes').selectAll().execute();
    t.ok(rows.length >= 5, `${rows.length} pushes recorded`);
    t.ok(rows.every((r) => r.pusher_id !== null && /^[0-9a-f]{40}$/.test(r.new_sha)));
    const log = await server.api('GET', '/api/v1/repos/alice/model/pushes?limit=2');
    t.equal(log.status, 200);
    t.equal(log.body.length, 2, 'the push log through the API, newest first');
    t.match(log.body[0], { ref: String, before: /^[0-9a-f]{40}$/, after: /^[0-9a-f]{40}$/, pusher: 'alice', pushed_at: String });
    t.ok(log.body[0].id > log.body[1].id);
  });
});
