import t from 'tap';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { GitClient } from './helpers/git-client.ts';
import { startServer } from './helpers/server.ts';

t.test('git transfers: atomic, shallow, partial, big, gzip, concurrent', async (t) => {
  const server = await startServer(t);
  const git = await GitClient.create(t);
  const alice = await server.user('alice');
  await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'data' } });
  const url = server.gitUrl('alice', 'data', alice.tokenBasic);
  const history = Array.from({ length: 5 }, (_, i) => ({ [`f${i}.txt`]: `version ${i}\n`.repeat(100) }));
  const work = await git.workRepo('work', history);
  await git.ok(['remote', 'add', 'origin', url], { cwd: work });
  await git.ok(['push', 'origin', 'main'], { cwd: work });

  await t.test('--atomic: one rejected ref rejects all', async (t) => {
    await git.ok(['branch', 'side'], { cwd: work });
    const rejected = await git.run(['push', '--atomic', 'origin', 'side', 'HEAD:refs/notes/mlproject'], { cwd: work });
    t.not(rejected.code, 0);
    t.notMatch(await git.ok(['ls-remote', url]), /refs\/heads\/side/, 'side was not created');
    const accepted = await git.run(['push', '--atomic', 'origin', 'side', 'HEAD:refs/heads/other'], { cwd: work });
    t.equal(accepted.code, 0, accepted.stderr);
    t.match(await git.ok(['ls-remote', url]), /refs\/heads\/side[\s\S]*refs\/heads\/other|refs\/heads\/other[\s\S]*refs\/heads\/side/);
  });

  await t.test('shallow clone and deepen', async (t) => {
    const dir = path.join(git.home, 'shallow');
    await git.ok(['clone', '--depth', '1', url, dir]);
    t.equal((await git.ok(['rev-list', '--count', 'HEAD'], { cwd: dir })).trim(), '1');
    await git.ok(['fetch', '--deepen', '2'], { cwd: dir });
    t.equal((await git.ok(['rev-list', '--count', 'HEAD'], { cwd: dir })).trim(), '3');
  });

  await t.test('partial clone with --filter=blob:none fetches blobs on demand', async (t) => {
    const dir = path.join(git.home, 'partial');
    const result = await git.run(['clone', '--filter=blob:none', '--no-checkout', url, dir]);
    t.equal(result.code, 0, result.stderr);
    const missing = await git.ok(['rev-list', '--objects', '--missing=print', 'HEAD'], { cwd: dir });
    t.ok(missing.split('\n').filter((l) => l.startsWith('?')).length >= 5, 'blobs were left out');
    await git.ok(['checkout', 'main'], { cwd: dir });
    t.equal(await fs.readFile(path.join(dir, 'f4.txt'), 'utf8'), 'version 4\n'.repeat(100), 'lazy fetch of a blob');
  });

  await t.test('a ~50 MB push streams chunked; a big fetch negotiation is gzipped', async (t) => {
    const big = await git.workRepo('big', [{ 'weights.bin': randomBytes(50 * 1024 * 1024) }]);
    await git.ok(['remote', 'add', 'origin', url], { cwd: big });
    const push = await git.run(['push', 'origin', 'main:refs/heads/big'], { cwd: big, env: { GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' } });
    t.equal(push.code, 0, push.stderr.slice(-2000));
    t.match(push.stderr, /Transfer-Encoding: chunked/i, 'the chunked request path was used');

    // 60 local commits the server has never seen: the "have" lines make the body > 1 KiB, which git gzips.
    const negotiator = await git.workRepo('negotiator', Array.from({ length: 60 }, (_, i) => ({ [`n${i}`]: `${i}` })));
    await git.ok(['remote', 'add', 'origin', url], { cwd: negotiator });
    const fetch = await git.run(['-c', 'protocol.version=0', 'fetch', 'origin', 'big'], { cwd: negotiator, env: { GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' } });
    t.equal(fetch.code, 0, fetch.stderr.slice(-2000));
    t.match(fetch.stderr, /Content-Encoding: gzip/i, 'the gzip request path was used');
    const clone = path.join(git.home, 'big-clone');
    await git.ok(['clone', '--branch', 'big', url, clone]);
    t.same(await fs.readFile(path.join(clone, 'weights.bin')), await fs.readFile(path.join(big, 'weights.bin')), 'byte-identical');
  });

  await t.test('10 concurrent pushes to different refs all land', async (t) => {
    const clones = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const dir = path.join(git.home, `conc-${i}`);
        await git.ok(['clone', '-q', url, dir]);
        await git.commit(dir, { [`c${i}.txt`]: `${i}\n` }, `concurrent ${i}`);
        return dir;
      }),
    );
    const results = await Promise.all(clones.map((dir, i) => git.run(['push', 'origin', `HEAD:refs/heads/conc-${i}`], { cwd: dir })));
    t.same(results.map((r) => r.code), Array(10).fill(0), results.map((r) => r.stderr).join('\n'));
    const refs = await git.ok(['ls-remote', url, 'refs/heads/conc-*']);
    t.equal(refs.trim().split('\n').length, 10);
  });

  await t.test('two concurrent pushes to the same ref: one wins, the repo stays consistent', async (t) => {
    const dirs = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const dir = path.join(git.home, `race-${name}`);
        await git.ok(['clone', '-q', url, dir]);
        await git.commit(dir, { 'race.txt': `${name}\n` }, `race ${name}`);
        return dir;
      }),
    );
    const results = await Promise.all(dirs.map((dir) => git.run(['push', 'origin', 'HEAD:main'], { cwd: dir })));
    const winners = results.filter((r) => r.code === 0).length;
    t.equal(winners, 1, results.map((r) => r.stderr).join('\n'));
    const repo = await server.services.repos.authorize(null, 'alice', 'data', 'read');
    const fsck = await server.services.git.fsck(repo.repo.id);
    t.ok(fsck.ok, fsck.output);
  });
});
