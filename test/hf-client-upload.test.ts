// Uploads with the official JavaScript client: uploadFiles/commit with a small text file and a
// binary file that preupload sends to Git LFS, on the local store and on S3. The commit lands
// through the push path: `git clone` + `git lfs` sees it, and its mlproject.yaml trains like a push.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as hub from '@huggingface/hub';
import { hubFixture, STORES } from './helpers/hf-fixture.ts';
import { manifest, runsConfig, waitForRuns } from './helpers/runs.ts';

const bytes = async (blob: Blob | null) => (blob ? Buffer.from(await blob.arrayBuffer()) : null);
const statusOf = (call: Promise<unknown>) => call.then(() => 'ok', (err: { statusCode?: number }) => err.statusCode);

const TRAIN_PY = `import json, os
size = os.path.getsize('weights/init.pt')
with open('metrics.json', 'w') as f:
    json.dump({'accuracy': 0.75, 'weights_bytes': size}, f)
print('trained from', size, 'bytes of weights')
`;
const PROJECT = manifest(`jobs:
  train:
    kind: train
    command: python3 train.py
    inputs: [train.py, weights/init.pt]
    metrics: {path: metrics.json, format: json, primary: accuracy}
    timeout: 2m
`);

for (const [storeName, storeConfig] of Object.entries(STORES)) {
  t.test(`@huggingface/hub uploads to mlgit (${storeName} store)`, async (t) => {
    const fx = await hubFixture(t, { config: { ...(await storeConfig(t)), runs: runsConfig({ runtime: 'process' }) } });
    const hubUrl = fx.server.url;
    const repo = 'alice/tiny';
    const accessToken = fx.token;
    const weights = randomBytes(200 * 1024);
    weights[0] = 0; // binary for sure: preupload sends files whose sample has a NUL byte to LFS
    const hello = 'hello from the hub client\n';

    const before = (await hub.modelInfo({ name: repo, hubUrl, additionalFields: ['sha'] })).sha;
    const uploaded = await hub.uploadFiles({
      repo,
      hubUrl,
      accessToken,
      commitTitle: 'Add weights and a note',
      files: [
        { path: 'notes/hello.txt', content: new Blob([hello]) },
        { path: 'weights/init.pt', content: new Blob([weights]) },
        { path: 'train.py', content: new Blob([TRAIN_PY]) },
        { path: 'mlproject.yaml', content: new Blob([PROJECT]) },
      ],
    });
    const sha = uploaded?.commit.oid ?? '';
    t.match(sha, /^[0-9a-f]{40}$/, 'the commit id comes back');
    t.equal((await hub.modelInfo({ name: repo, hubUrl, additionalFields: ['sha'] })).sha, sha, 'main moved to it');

    const listed = [];
    for await (const entry of hub.listFiles({ repo, hubUrl, recursive: true, path: 'weights' })) listed.push(entry);
    t.equal(listed[0]?.lfs?.size, weights.length, 'the binary file went to LFS');
    t.same(await bytes(await hub.downloadFile({ repo, path: 'weights/init.pt', hubUrl })), weights, 'LFS file byte-identical');
    t.same(await bytes(await hub.downloadFile({ repo, path: 'notes/hello.txt', hubUrl })), Buffer.from(hello), 'text file byte-identical');

    // The same commit as git and git-lfs see it.
    const clone = path.join(fx.git.home, `clone-${storeName}`);
    await fx.git.ok(['clone', '-q', fx.server.gitUrl('alice', 'tiny', `alice:${accessToken}`), clone]);
    t.equal((await fx.git.ok(['rev-parse', 'HEAD'], { cwd: clone })).trim(), sha);
    t.equal((await fx.git.ok(['rev-parse', 'HEAD^'], { cwd: clone })).trim(), before, 'its parent is the branch head it was made on');
    t.equal((await fx.git.ok(['log', '-1', '--format=%an|%s'], { cwd: clone })).trim(), 'alice|Add weights and a note', 'authored by the token user');
    t.same(await fs.readFile(path.join(clone, 'weights/init.pt')), weights, 'git lfs checked the object out');
    t.match(await fs.readFile(path.join(clone, '.gitattributes'), 'utf8'), /weights\/init\.pt filter=lfs/, '.gitattributes tracks the new LFS file');

    // It trains like a push: the runner fetched the commit, the LFS object, and reported metrics.
    const [run] = await waitForRuns(fx.server, `alice:${accessToken}`, repo, sha, { timeoutMs: 120_000 });
    t.equal(run?.status, 'success', `the train run: ${run?.message ?? ''}`);
    const detail = await fx.server.api('GET', `/api/v1/repos/${repo}/runs/${run.id}`, { auth: accessToken.slice(3) });
    t.same(detail.body.metrics, { accuracy: 0.75, weights_bytes: weights.length });
    const pushes = await fx.server.api('GET', `/api/v1/repos/${repo}/pushes`, { auth: accessToken.slice(3) });
    t.match(pushes.body[0], { ref: 'refs/heads/main', after: sha, before }, 'recorded in the push log like a push');

    // parentCommit that is no longer the head: 412, nothing committed.
    const stale = hub.commit({ repo, hubUrl, accessToken, title: 'stale', parentCommit: before!, operations: [{ operation: 'addOrUpdate', path: 'stale.txt', content: new Blob(['x']) }] });
    t.equal(await statusOf(stale), 412);
    const deleted = await hub.deleteFile({ repo, hubUrl, accessToken, path: 'notes/hello.txt' });
    t.match(deleted?.commit.oid, /^[0-9a-f]{40}$/);
    t.equal(await hub.fileDownloadInfo({ repo, path: 'notes/hello.txt', hubUrl }), null, 'deleted');
    t.equal(await hub.fileDownloadInfo({ repo, path: 'stale.txt', hubUrl }), null, 'the stale commit left nothing');
    t.equal(await statusOf(hub.uploadFile({ repo, hubUrl, accessToken, file: { path: 'pr.txt', content: new Blob(['x']) }, isPullRequest: true })), 400, 'create_pr: a clear 400');
  });
}
