// The official JavaScript client, @huggingface/hub, with hubUrl pointed at mlgit: reading
// (whoAmI, listFiles, fileDownloadInfo, downloadFile, modelInfo, listModels, snapshotDownload into
// an HF cache) and createRepo/deleteRepo, on the local store and on S3.
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as hub from '@huggingface/hub';
import { hubFixture, STORES } from './helpers/hf-fixture.ts';

/** The HTTP status a client call failed with (HubApiError.statusCode), or 'ok'. */
const statusOf = (call: Promise<unknown>) => call.then(() => 'ok', (err: { statusCode?: number }) => err.statusCode);
const text = async (blob: Blob | null) => (blob ? Buffer.from(await blob.arrayBuffer()) : null);

for (const [storeName, storeConfig] of Object.entries(STORES)) {
  t.test(`@huggingface/hub reads mlgit (${storeName} store)`, async (t) => {
    const fx = await hubFixture(t, { config: await storeConfig(t) });
    const hubUrl = fx.server.url;
    const repo = 'alice/tiny';
    const accessToken = fx.token;

    const me = await hub.whoAmI({ hubUrl, accessToken });
    t.equal(me.name, 'alice');
    t.equal(me.type, 'user');
    t.equal((me as { auth: { accessToken?: { role: string } } }).auth.accessToken?.role, 'write', 'the token role comes from its scopes');

    const listed = [];
    for await (const entry of hub.listFiles({ repo, hubUrl, recursive: true })) listed.push(entry);
    t.same(listed.map((e) => `${e.type} ${e.path}`).sort(), ['directory model', 'file .gitattributes', 'file README.md', 'file config.json', 'file model/notes.txt', 'file model/weights.bin']);
    const weights = listed.find((e) => e.path === 'model/weights.bin')!;
    t.equal(weights.size, fx.files.weights.length, 'an LFS file lists its object size');
    t.equal(weights.lfs?.size, fx.files.weights.length);
    t.match(weights.lfs?.oid, /^[0-9a-f]{64}$/);

    const info = await hub.fileDownloadInfo({ repo, path: 'config.json', hubUrl });
    t.equal(info?.size, fx.files.config.length);
    t.match(info?.etag, /^"[0-9a-f]{40}"$/, 'a git file: its blob id');
    const lfsInfo = await hub.fileDownloadInfo({ repo, path: 'model/weights.bin', hubUrl, accessToken });
    t.equal(lfsInfo?.size, fx.files.weights.length);
    if (storeName === 'local') t.equal(lfsInfo?.etag, `"${weights.lfs!.oid}"`, 'an LFS file: its sha256');
    t.equal(await hub.fileDownloadInfo({ repo, path: 'nope.txt', hubUrl }), null, 'EntryNotFound: null');

    t.same(await text(await hub.downloadFile({ repo, path: 'config.json', hubUrl })), Buffer.from(fx.files.config));
    t.same(await text(await hub.downloadFile({ repo, path: 'model/weights.bin', hubUrl, accessToken })), fx.files.weights, 'the LFS object, byte for byte');
    t.same(await text(await hub.downloadFile({ repo, path: 'config.json', hubUrl, revision: 'v1' })), Buffer.from('{}\n'), 'by tag');
    t.same(await text(await hub.downloadFile({ repo, path: 'config.json', hubUrl, revision: fx.commits.first })), Buffer.from('{}\n'), 'by sha');
    t.same(await text(await hub.downloadFile({ repo, path: 'config.json', hubUrl, revision: fx.commits.first.slice(0, 8) })), Buffer.from('{}\n'), 'by short sha');
    t.same(await text(await hub.downloadFile({ repo, path: 'dev.txt', hubUrl, revision: 'dev' })), Buffer.from('dev only\n'), 'by branch');
    t.equal(await statusOf(hub.downloadFile({ repo, path: 'config.json', hubUrl, revision: 'nope' })), 404, 'RevisionNotFound');

    const model = await hub.modelInfo({ name: repo, hubUrl, additionalFields: ['sha', 'cardData', 'tags', 'library_name', 'author', 'filePaths'] });
    t.equal(model.name, repo);
    t.equal(model.sha, fx.commits.main);
    t.equal(model.private, false);
    t.equal(model.task, 'tabular-classification');
    t.equal(model.library_name, 'scikit-learn');
    t.equal(model.author, 'alice');
    t.match(model.cardData, { license: 'mit', tags: ['digits'] });
    t.ok(model.tags?.includes('digits') && model.tags.includes('license:mit'), 'tags from the card');
    t.ok(model.downloads > 0, 'resolve calls are counted');
    t.same([...(model.filePaths ?? [])].sort(), ['.gitattributes', 'README.md', 'config.json', 'model/notes.txt', 'model/weights.bin']);
    const atTag = await hub.modelInfo({ name: repo, hubUrl, revision: 'v1', additionalFields: ['sha'] });
    t.equal(atTag.sha, fx.commits.first);

    const found = [];
    for await (const m of hub.listModels({ hubUrl, search: { query: 'tiny' } })) found.push(m.name);
    t.same(found, [repo]);
    const none = [];
    for await (const m of hub.listModels({ hubUrl, search: { query: 'absent' } })) none.push(m.name);
    t.same(none, []);

    // The HF cache layout: blobs/<etag>, snapshots/<commit>/<path> symlinks, refs/main.
    const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-hf-cache-'));
    t.teardown(() => fs.rm(cacheDir, { recursive: true, force: true }));
    const snapshot = await hub.snapshotDownload({ repo, hubUrl, cacheDir, accessToken });
    t.equal(path.basename(snapshot), fx.commits.main);
    t.same(await fs.readFile(path.join(snapshot, 'model/weights.bin')), fx.files.weights);
    t.equal(await fs.readFile(path.join(snapshot, 'config.json'), 'utf8'), fx.files.config);
    t.equal(await fs.readFile(path.join(cacheDir, 'models--alice--tiny', 'refs', 'main'), 'utf8'), fx.commits.main);
    t.ok((await fs.lstat(path.join(snapshot, 'config.json'))).isSymbolicLink());
    const downloadsBefore = (await hub.modelInfo({ name: repo, hubUrl, additionalFields: [] })).downloads;
    const again = await hub.snapshotDownload({ repo, hubUrl, cacheDir, accessToken });
    t.equal(again, snapshot);
    const single = await hub.downloadFileToCacheDir({ repo, path: 'model/weights.bin', hubUrl, cacheDir });
    t.same(await fs.readFile(single), fx.files.weights);
    t.equal((await hub.modelInfo({ name: repo, hubUrl, additionalFields: [] })).downloads, downloadsBefore, 'the second snapshot came from the cache: no file was fetched again');
  });
}

t.test('private repositories, createRepo and deleteRepo through @huggingface/hub', async (t) => {
  const fx = await hubFixture(t, { private: true });
  const hubUrl = fx.server.url;
  const accessToken = fx.token;
  t.equal(await statusOf(hub.modelInfo({ name: 'alice/tiny', hubUrl })), 401, 'anonymous: 401, so clients ask for a token');
  t.equal(await statusOf(hub.downloadFile({ repo: 'alice/tiny', path: 'config.json', hubUrl })), 401);
  t.equal((await hub.modelInfo({ name: 'alice/tiny', hubUrl, accessToken })).private, true);
  t.same(await text(await hub.downloadFile({ repo: 'alice/tiny', path: 'config.json', hubUrl, accessToken })), Buffer.from(fx.files.config));
  const bob = await fx.server.user('bob');
  t.equal(await statusOf(hub.modelInfo({ name: 'alice/tiny', hubUrl, accessToken: `hf_${bob.token}` })), 404, 'another user: 404, existence not leaked');
  const anonymousList = [];
  for await (const m of hub.listModels({ hubUrl })) anonymousList.push(m.name);
  t.same(anonymousList, [], 'private repos are not listed to strangers');
  const ownList = [];
  for await (const m of hub.listModels({ hubUrl, accessToken, search: { owner: 'alice' } })) ownList.push(m.name);
  t.same(ownList, ['alice/tiny']);

  const created = await hub.createRepo({ repo: 'alice/made-by-hf', hubUrl, accessToken, private: true });
  t.equal(created.repoUrl, `${hubUrl}/alice/made-by-hf`);
  const rest = await fx.server.api('GET', '/api/v1/repos/alice/made-by-hf', { auth: accessToken.slice(3) });
  t.equal(rest.status, 200);
  t.equal(rest.body.private, true);
  t.equal(rest.body.kind, 'model');
  t.equal(await statusOf(hub.createRepo({ repo: 'alice/made-by-hf', hubUrl, accessToken })), 409, 'an existing name: 409');
  t.equal(await statusOf(hub.createRepo({ repo: 'bob/not-mine', hubUrl, accessToken })), 403, 'another namespace: 403');
  const dataset = await hub.createRepo({ repo: { type: 'dataset', name: 'alice/some-data' }, hubUrl, accessToken });
  t.equal(dataset.repoUrl, `${hubUrl}/datasets/alice/some-data`);
  t.equal((await fx.server.api('GET', '/api/v1/repos/alice/some-data', { auth: accessToken.slice(3) })).body.kind, 'dataset');
  // Datasets: files under /datasets/, info under /api/datasets/, LFS uploads through the /datasets/ batch URL.
  const rows = Buffer.concat([Buffer.from([0]), Buffer.from('a,b\n1,2\n'.repeat(1000))]);
  await hub.uploadFiles({ repo: { type: 'dataset', name: 'alice/some-data' }, hubUrl, accessToken, files: [{ path: 'rows.bin', content: new Blob([rows]) }, { path: 'README.md', content: new Blob(['# data\n']) }] });
  t.same(await text(await hub.downloadFile({ repo: { type: 'dataset', name: 'alice/some-data' }, path: 'rows.bin', hubUrl, accessToken })), rows, 'a dataset LFS file, byte for byte');
  const datasetFiles = [];
  for await (const entry of hub.listFiles({ repo: { type: 'dataset', name: 'alice/some-data' }, hubUrl, accessToken })) datasetFiles.push(`${entry.path}${entry.lfs ? ' (lfs)' : ''}`);
  t.same(datasetFiles.sort(), ['.gitattributes', 'README.md', 'rows.bin (lfs)']);
  t.equal((await hub.datasetInfo({ name: 'alice/some-data', hubUrl, accessToken })).name, 'alice/some-data');
  const empty = await hub.modelInfo({ name: 'alice/made-by-hf', hubUrl, accessToken, additionalFields: ['sha'] });
  t.equal(empty.sha, null, 'an empty repository: no commit yet');

  t.equal(await statusOf(hub.deleteRepo({ repo: 'alice/made-by-hf', hubUrl, accessToken: `hf_${bob.token}` })), 404);
  t.equal(await statusOf(hub.deleteRepo({ repo: 'alice/made-by-hf', hubUrl, accessToken })), 403, 'deleting needs a token with the admin scope, as in the REST API');
  const adminToken = await fx.server.api('POST', '/api/v1/user/tokens', { auth: 'alice:alice-password', body: { name: 'admin', scopes: ['read', 'write', 'admin'] } });
  await hub.deleteRepo({ repo: 'alice/made-by-hf', hubUrl, accessToken: `hf_${adminToken.body.token as string}` });
  t.equal((await fx.server.api('GET', '/api/v1/repos/alice/made-by-hf', { auth: accessToken.slice(3) })).status, 404, 'deleted');
  await hub.deleteRepo({ repo: { type: 'dataset', name: 'alice/some-data' }, hubUrl, accessToken: `hf_${adminToken.body.token as string}` });
  t.equal(await statusOf(hub.whoAmI({ hubUrl, accessToken: 'hf_not-a-token' })), 401);
  // Token creation offers the hf_ form for copy-paste.
  const minted = await fx.server.api('POST', '/api/v1/user/tokens', { auth: 'alice:alice-password', body: { name: 'for-hf', scopes: ['read'] } });
  t.equal(minted.body.hf_token, `hf_${minted.body.token as string}`);
  const reader = await hub.whoAmI({ hubUrl, accessToken: minted.body.hf_token as string });
  t.equal((reader as { auth: { accessToken?: { role: string } } }).auth.accessToken?.role, 'read');
});
