// Hostile inputs to the Hub API, table-driven: traversal in revisions and paths (literal, encoded,
// NUL), commit bodies that escape the tree, repeat paths, write into .git or through a symlink,
// carry too many operations or a base64 bomb, name an LFS object never uploaded, touch a locked
// file or break the manifest, and commits racing on one parent. Each gets a clear error, and a
// refused commit changes nothing: the branch stays where it was and no quarantine is left.
import t from 'tap';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { hubFixture } from './helpers/hf-fixture.ts';

/** A request with the path exactly as given (fetch would normalise `..` and `%2e%2e` away). */
function rawGet(url: string, rawPath: string, headers: Record<string, string> = {}): Promise<{ status: number; code: string | null; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.request({ hostname, port, path: rawPath, method: 'GET', headers }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, code: (response.headers['x-error-code'] as string | undefined) ?? null, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

const line = (key: string, value: unknown) => JSON.stringify({ key, value });
const header = (extra: Record<string, unknown> = {}) => line('header', { summary: 'hostile', ...extra });
const file = (p: string, content = 'x') => line('file', { path: p, content: Buffer.from(content).toString('base64'), encoding: 'base64' });

t.test('hostile revisions and paths when reading', async (t) => {
  const fx = await hubFixture(t);
  const table: [string, number, string | null][] = [
    ['/alice/tiny/resolve/..%2F..%2Fetc/passwd', 404, 'RevisionNotFound'],
    ['/alice/tiny/resolve/main~1/config.json', 404, 'RevisionNotFound'],
    ['/alice/tiny/resolve/HEAD@%7B1%7D/config.json', 404, 'RevisionNotFound'],
    ['/alice/tiny/resolve/main:README.md/config.json', 404, 'RevisionNotFound'],
    ['/alice/tiny/resolve/--output=x/config.json', 404, 'RevisionNotFound'],
    ['/alice/tiny/resolve/main%00/config.json', 404, 'RevisionNotFound'],
    ['/alice/tiny/resolve/main/model/../config.json', 400, null],
    ['/alice/tiny/resolve/main/model%2F..%2Fconfig.json', 400, null],
    ['/alice/tiny/resolve/main/%2e%2e/%2e%2e/etc/passwd', 400, null],
    ['/alice/tiny/resolve/main/.git/config', 400, null],
    ['/alice/tiny/resolve/main/config.json%00.txt', 400, null],
    ['/alice/tiny/resolve/main/%0aconfig.json', 400, null],
    ['/api/models/alice/tiny/tree/main/..%2F..', 400, null],
    ['/api/models/..%2Fadmin/tiny', 404, 'RepoNotFound'],
    ['/api/models/alice/tiny.git%00/refs', 404, 'RepoNotFound'],
  ];
  for (const [rawPath, status, code] of table) {
    const answer = await rawGet(fx.server.url, rawPath, { authorization: `Bearer ${fx.token}` });
    t.equal(answer.status, status, rawPath);
    t.equal(answer.code, code, `${rawPath}: X-Error-Code`);
    t.match(JSON.parse(answer.body), { error: String }, `${rawPath}: a JSON error`);
  }
});

t.test('hostile commits change nothing', async (t) => {
  const fx = await hubFixture(t);
  const { server } = fx;
  // A symlink in the tree, pushed with git: nothing may be written through it.
  await fs.symlink('model', path.join(fx.workdir, 'link'));
  await fx.git.ok(['add', 'link'], { cwd: fx.workdir });
  await fx.git.ok(['commit', '-q', '-m', 'a symlink'], { cwd: fx.workdir });
  await fx.git.ok(['push', '-q', 'origin', 'main'], { cwd: fx.workdir });
  const bob = await server.user('bob');
  t.equal((await server.api('PUT', '/api/v1/repos/alice/tiny/collaborators/bob', { auth: 'alice:alice-password', body: { role: 'write' } })).status, 204);
  const lock = await fetch(`${server.url}/alice/tiny.git/info/lfs/locks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bob.token}`, 'content-type': 'application/vnd.git-lfs+json' },
    body: JSON.stringify({ path: 'model/weights.bin' }),
  });
  t.equal(lock.status, 201, 'bob locks the weights');

  const head = async () => ((await server.api('GET', '/api/models/alice/tiny/revision/main', {})).body as { sha: string }).sha;
  const start = await head();
  const repoDir = path.join(server.dataDir, 'repos', '01', '1.git', 'objects');
  const quarantines = async () => (await fs.readdir(repoDir)).filter((name) => name.startsWith('tmp_objdir-incoming-hf-'));
  const bomb = `${header()}\n${line('file', { path: 'bomb.bin', content: 'A'.repeat(90 * 1024 * 1024), encoding: 'base64' })}`;
  const tooMany = [header(), ...Array.from({ length: 10_001 }, (_, i) => file(`many/${i}.txt`))].join('\n');
  const neverUploaded = line('lfsFile', { path: 'ghost.bin', algo: 'sha256', oid: 'e'.repeat(64), size: 10 });
  const table: [string, string, number, RegExp][] = [
    ['a path escaping the tree', `${header()}\n${file('../evil.txt')}`, 422, /invalid path/],
    ['an encoded escape', `${header()}\n${file('model/%2e%2e/../evil.txt')}`, 422, /invalid path/],
    ['a NUL in a path', `${header()}\n${file('evil\u0000.txt')}`, 422, /invalid path/],
    ['a .git path', `${header()}\n${file('.git/hooks/post-receive', '#!/bin/sh\necho owned\n')}`, 422, /\.git/],
    ['a nested .git path', `${header()}\n${file('model/.GIT/config')}`, 422, /\.git/],
    ['a duplicate path', `${header()}\n${file('twice.txt')}\n${file('twice.txt')}`, 422, /twice/],
    ['a write through a symlink', `${header()}\n${file('link/evil.txt')}`, 422, /conflicts/],
    ['a symlink operation', `${header()}\n${line('symlink', { path: 'l', target: '/etc/passwd' })}`, 422, /unknown operation/],
    ['10 001 operations', tooMany, 413, /at most 10000 operations/],
    ['a base64 bomb', bomb, 413, /exceed/],
    ['bad base64', `${header()}\n${line('file', { path: 'b.txt', content: '!!!not base64!!!', encoding: 'base64' })}`, 422, /base64/],
    ['an LFS object never uploaded', `${header()}\n${neverUploaded}`, 422, /never uploaded/],
    ['a file someone else locked', `${header()}\n${line('deletedFile', { path: 'model/weights.bin' })}`, 422, /locked by bob/],
    ['a manifest that does not validate', `${header()}\n${file('mlproject.yaml', 'version: 1\nname: x\njobs:\n  train:\n    command: [1, 2\n')}`, 422, /mlproject\.yaml/],
    ['a missing file deleted', `${header()}\n${line('deletedFile', { path: 'nope.txt' })}`, 404, /Entry not found/],
    ['no header', file('a.txt'), 422, /header/],
    ['not JSON', `${header()}\nnot json`, 422, /line 2/],
    ['a stale parentCommit', `${header({ parentCommit: fx.commits.first })}\n${file('a.txt')}`, 412, /parentCommit/],
  ];
  for (const [what, body, status, message] of table) {
    const response = await fetch(`${server.url}/api/models/alice/tiny/commit/main`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fx.token}`, 'content-type': 'application/x-ndjson' },
      body,
    });
    const answer = (await response.json()) as { error: string };
    t.equal(response.status, status, what);
    t.match(answer.error, message, `${what}: ${answer.error.slice(0, 120)}`);
    t.equal(await head(), start, `${what}: nothing committed`);
  }
  const toTag = await fetch(`${server.url}/api/models/alice/tiny/commit/v1`, { method: 'POST', headers: { authorization: `Bearer ${fx.token}`, 'content-type': 'application/x-ndjson' }, body: `${header()}\n${file('a.txt')}` });
  t.equal(toTag.status, 404, 'a commit to a tag: RevisionNotFound');
  t.equal(toTag.headers.get('x-error-code'), 'RevisionNotFound');
  const asJson = await fetch(`${server.url}/api/models/alice/tiny/commit/main`, { method: 'POST', headers: { authorization: `Bearer ${fx.token}`, 'content-type': 'application/json' }, body: '{}' });
  t.equal(asJson.status, 415, 'the body must be NDJSON');
  t.same(await quarantines(), [], 'no quarantine left behind');
  t.equal(await head(), start);

  // Racing commits on one parent: one wins, every other gets 412 and changes nothing.
  const racers = await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      fetch(`${server.url}/api/models/alice/tiny/commit/main`, {
        method: 'POST',
        headers: { authorization: `Bearer ${fx.token}`, 'content-type': 'application/x-ndjson' },
        body: `${header({ parentCommit: start })}\n${file(`racer-${i}.txt`, `racer ${i}`)}`,
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { commitOid?: string; error?: string } })),
    ),
  );
  const winners = racers.filter((r) => r.status === 200);
  t.equal(winners.length, 1, 'one commit wins');
  const losers = racers.filter((r) => r.status !== 200);
  t.same(losers.map((r) => r.status), [412, 412, 412, 412], `the others: 412 (${losers.map((r) => r.body.error).join('; ')})`);
  t.equal(await head(), winners[0]!.body.commitOid);
  const tree = (await server.api('GET', '/api/models/alice/tiny/tree/main', {})).body as { path: string }[];
  t.equal(tree.filter((e) => e.path.startsWith('racer-')).length, 1, 'only the winner\'s file is there');
  t.same(await quarantines(), [], 'no quarantine left behind');
});
