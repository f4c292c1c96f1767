// The Hub's file and error headers as raw HTTP, since huggingface_hub and transformers read them
// directly: resolve and raw with GET and HEAD, Range, If-None-Match, the LFS headers, the redirect
// to S3, the X-Error-Code table, and browsers kept on the web UI's pages for the same paths.
import t from 'tap';
import { createHash } from 'node:crypto';
import { hubFixture, STORES } from './helpers/hf-fixture.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

t.test('resolve and raw headers (local store)', async (t) => {
  const fx = await hubFixture(t);
  const { url } = fx.server;
  const auth = { authorization: `Bearer ${fx.token}` };
  const tree = await fx.server.api('GET', '/api/models/alice/tiny/tree/main', {});
  const configOid = (tree.body as { path: string; oid: string }[]).find((e) => e.path === 'config.json')!.oid;

  const get = await fetch(`${url}/alice/tiny/resolve/main/config.json`);
  t.equal(get.status, 200);
  t.equal(await get.text(), fx.files.config);
  t.equal(get.headers.get('etag'), `"${configOid}"`, 'ETag: the git blob id');
  t.equal(get.headers.get('x-repo-commit'), fx.commits.main);
  t.equal(get.headers.get('content-length'), String(fx.files.config.length));
  t.equal(get.headers.get('accept-ranges'), 'bytes');
  t.match(get.headers.get('content-disposition'), /^attachment; filename\*=UTF-8''config\.json/);
  t.equal(get.headers.get('x-linked-etag'), null, 'no X-Linked-* for a file git stores');

  const head = await fetch(`${url}/alice/tiny/resolve/main/config.json`, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.headers.get('etag'), `"${configOid}"`);
  t.equal(head.headers.get('content-length'), String(fx.files.config.length), 'HEAD: the length of the GET');
  t.equal(head.headers.get('x-repo-commit'), fx.commits.main);

  const first = await fetch(`${url}/alice/tiny/resolve/main/config.json`, { headers: { range: 'bytes=0-0' } });
  t.equal(first.status, 206, 'the probe fileDownloadInfo sends');
  t.equal(first.headers.get('content-range'), `bytes 0-0/${fx.files.config.length}`);
  t.equal(await first.text(), fx.files.config[0]);
  const tail = await fetch(`${url}/alice/tiny/resolve/main/config.json`, { headers: { range: 'bytes=5-' } });
  t.equal(await tail.text(), fx.files.config.slice(5));
  const beyond = await fetch(`${url}/alice/tiny/resolve/main/config.json`, { headers: { range: 'bytes=999999-' } });
  t.equal(beyond.status, 416);
  t.equal(beyond.headers.get('content-range'), `bytes */${fx.files.config.length}`);
  const cached = await fetch(`${url}/alice/tiny/resolve/main/config.json`, { headers: { 'if-none-match': `"${configOid}"` } });
  t.equal(cached.status, 304, 'If-None-Match with the ETag: not modified');

  const oid = sha256(fx.files.weights);
  const lfs = await fetch(`${url}/alice/tiny/resolve/main/model/weights.bin`, { headers: auth });
  t.equal(lfs.status, 200, 'the local store streams the object');
  t.same(Buffer.from(await lfs.arrayBuffer()), fx.files.weights);
  t.equal(lfs.headers.get('etag'), `"${oid}"`, 'ETag: the LFS sha256');
  t.equal(lfs.headers.get('x-linked-etag'), `"${oid}"`);
  t.equal(lfs.headers.get('x-linked-size'), String(fx.files.weights.length));
  t.equal(lfs.headers.get('content-length'), String(fx.files.weights.length));
  const lfsRange = await fetch(`${url}/alice/tiny/resolve/main/model/weights.bin`, { headers: { range: 'bytes=100-199' } });
  t.equal(lfsRange.status, 206);
  t.same(Buffer.from(await lfsRange.arrayBuffer()), fx.files.weights.subarray(100, 200));
  const lfsHead = await fetch(`${url}/alice/tiny/resolve/main/model/weights.bin`, { method: 'HEAD' });
  t.equal(lfsHead.headers.get('x-linked-size'), String(fx.files.weights.length));

  const raw = await fetch(`${url}/alice/tiny/raw/main/model/weights.bin`);
  t.equal(raw.status, 200);
  t.match(await raw.text(), new RegExp(`^version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${fx.files.weights.length}\n$`), 'raw: the pointer git stores');
  t.equal(raw.headers.get('x-linked-etag'), null);
  const byTag = await fetch(`${url}/alice/tiny/resolve/v1/config.json`);
  t.equal(byTag.headers.get('x-repo-commit'), fx.commits.first);
  const encodedBranch = await fetch(`${url}/alice/tiny/resolve/${encodeURIComponent('dev')}/dev.txt`);
  t.equal(encodedBranch.status, 200);

  // Browsers get the web UI's pages for the same paths (HTML errors, sign-in redirects).
  const page = await fetch(`${url}/alice/tiny/resolve/main/missing.txt`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  t.equal(page.status, 404);
  t.match(page.headers.get('content-type'), /text\/html/);
  t.equal(page.headers.get('x-error-code'), null);
  await page.arrayBuffer();
});

t.test('the X-Error-Code table', async (t) => {
  const fx = await hubFixture(t, { private: true });
  const bob = await fx.server.user('bob');
  const alice = `Bearer ${fx.token}`;
  const other = `Bearer hf_${bob.token}`;
  const table: [string, string | null, number, string | null][] = [
    // path, credentials, status, X-Error-Code
    ['/alice/tiny/resolve/main/config.json', null, 401, 'RepoNotFound'],
    ['/alice/tiny/resolve/main/config.json', other, 404, 'RepoNotFound'],
    ['/alice/nope/resolve/main/config.json', null, 401, 'RepoNotFound'],
    ['/alice/nope/resolve/main/config.json', alice, 404, 'RepoNotFound'],
    ['/datasets/alice/tiny/resolve/main/config.json', alice, 404, 'RepoNotFound'],
    ['/alice/tiny/resolve/nope/config.json', alice, 404, 'RevisionNotFound'],
    ['/alice/tiny/resolve/main/nope.json', alice, 404, 'EntryNotFound'],
    ['/alice/tiny/resolve/main/model', alice, 404, 'EntryNotFound'],
    ['/api/models/alice/tiny/revision/nope', alice, 404, 'RevisionNotFound'],
    ['/api/models/alice/tiny/tree/main/nope', alice, 404, 'EntryNotFound'],
    ['/api/models/alice/tiny', null, 401, 'RepoNotFound'],
    ['/api/models/alice/tiny', 'Bearer hf_mlg_wrong', 401, null],
  ];
  for (const [path, authorization, status, code] of table) {
    for (const method of ['GET', 'HEAD']) {
      const response = await fetch(fx.server.url + path, { method, headers: authorization ? { authorization } : {} });
      t.equal(response.status, status, `${method} ${path} (${authorization ? 'token' : 'anonymous'})`);
      t.equal(response.headers.get('x-error-code'), code, `${method} ${path}: X-Error-Code`);
      t.ok(response.headers.get('x-error-message'), 'X-Error-Message says why');
      if (method === 'GET') t.type((await response.json()).error, 'string', 'a JSON {error} body');
      else await response.arrayBuffer();
    }
  }
});

t.test('LFS files on S3: a redirect to the presigned URL, with the headers clients read on the first response', async (t) => {
  const fx = await hubFixture(t, { config: await STORES.s3(t) });
  const oid = sha256(fx.files.weights);
  for (const method of ['GET', 'HEAD']) {
    const response = await fetch(`${fx.server.url}/alice/tiny/resolve/main/model/weights.bin`, { method, redirect: 'manual' });
    t.equal(response.status, 302, method);
    t.ok(response.headers.get('location')?.startsWith(fx.server.config.s3!.endpoint!), 'to the store, not through mlgit');
    t.equal(response.headers.get('x-linked-etag'), `"${oid}"`);
    t.equal(response.headers.get('x-linked-size'), String(fx.files.weights.length));
    t.equal(response.headers.get('x-repo-commit'), fx.commits.main);
    await response.arrayBuffer();
  }
  const followed = await fetch(`${fx.server.url}/alice/tiny/resolve/main/model/weights.bin`);
  t.same(Buffer.from(await followed.arrayBuffer()), fx.files.weights, 'the presigned URL serves the object');
});

t.test('listModels order: sort by id, createdAt, lastModified and downloads in both directions; unknown keys refused', async (t) => {
  const fx = await hubFixture(t);
  const auth = `Bearer ${fx.token}`;
  // alice/tiny exists (created and pushed first); two more, created in this order, never pushed to.
  for (const name of ['zeta', 'alpha']) t.equal((await fx.server.api('POST', '/api/v1/repos', { auth: fx.token, body: { name } })).status, 201);
  const ids = async (query: string) => {
    const response = await fetch(`${fx.server.url}/api/models?author=alice&${query}`, { headers: { authorization: auth } });
    t.equal(response.status, 200, query);
    return ((await response.json()) as { id: string }[]).map((m) => m.id);
  };
  t.same(await ids('sort=id&direction=1'), ['alice/alpha', 'alice/tiny', 'alice/zeta'], 'id ascending');
  t.same(await ids('sort=id'), ['alice/zeta', 'alice/tiny', 'alice/alpha'], 'descending by default, as on the Hub');
  t.same(await ids('sort=createdAt&direction=-1'), ['alice/alpha', 'alice/zeta', 'alice/tiny'], 'newest first');
  t.same(await ids('sort=createdAt&direction=1'), ['alice/tiny', 'alice/zeta', 'alice/alpha'], 'oldest first');
  t.equal((await ids('sort=lastModified'))[0], 'alice/alpha', 'last modified: a repo never pushed counts from its creation');
  // Downloads: counted at once, written to the rows in batches (every 5 s), which sort=downloads reads.
  for (let i = 0; i < 3; i++) await (await fetch(`${fx.server.url}/alice/tiny/resolve/main/config.json`)).arrayBuffer();
  const info = (await (await fetch(`${fx.server.url}/api/models/alice/tiny`, { headers: { authorization: auth } })).json()) as { downloads: number };
  t.ok(info.downloads >= 3, `modelInfo counts the resolve calls at once (${info.downloads})`);
  // Ascending, alice/tiny comes last only once its count is in the row (its newer push would
  // otherwise put it first among equals).
  const deadline = Date.now() + 30_000;
  let ascending = await ids('sort=downloads&direction=1');
  while (ascending.at(-1) !== 'alice/tiny' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    ascending = await ids('sort=downloads&direction=1');
  }
  t.equal(ascending.at(-1), 'alice/tiny', 'sort=downloads ascending: the downloaded one last, once the counts are written');
  t.equal((await ids('sort=downloads'))[0], 'alice/tiny', 'and first by default (descending)');
  for (const sort of ['likes', 'trendingScore', 'nonsense']) {
    const response = await fetch(`${fx.server.url}/api/models?sort=${sort}`, { headers: { authorization: auth } });
    t.equal(response.status, 400, `sort=${sort}`);
    t.match(response.headers.get('x-error-message'), new RegExp(`sort=${sort} is not supported by mlgit; use lastModified, createdAt, id, downloads`));
    await response.arrayBuffer();
  }
});
