import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GitClient } from './helpers/git-client.ts';
import { startS3rver, S3RVER_BUCKET } from './helpers/s3rver.ts';
import { startServer, type TestServer } from './helpers/server.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function writeRandomFile(file: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const handle = await fs.open(file, 'w');
  for (let written = 0; written < size; written += 1 << 20) {
    const chunk = randomBytes(Math.min(1 << 20, size - written));
    hash.update(chunk);
    await handle.write(chunk);
  }
  await handle.close();
  return hash.digest('hex');
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function lfsRepo(git: GitClient, name: string, files: Record<string, Buffer>, remote: string): Promise<string> {
  const dir = await git.workRepo(name, []);
  await git.ok(['lfs', 'track', '*.bin'], { cwd: dir });
  await git.commit(dir, { ...files }, 'add weights');
  await git.ok(['remote', 'add', 'origin', remote], { cwd: dir });
  return dir;
}

/** Local store: bytes go through mlgit. S3 (s3rver): presigned URLs, bytes go to the store directly. */
const stores = {
  local: async () => ({}),
  s3: async (t: { teardown(fn: () => Promise<void>): void }) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-s3rver-'));
    const s3 = await startS3rver(dir);
    t.teardown(async () => {
      await s3.stop();
      await fs.rm(dir, { recursive: true, force: true });
    });
    const config = {
      s3: { endpoint: `http://127.0.0.1:${s3.port}`, bucket: S3RVER_BUCKET, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true },
    };
    return config;
  },
};

for (const [storeName, storeConfig] of Object.entries(stores)) t.test(`the real git-lfs client against mlgit (${storeName} store)`, async (t) => {
  const server: TestServer = await startServer(t, { config: await storeConfig(t) });
  const git = await GitClient.create(t);
  await git.enableLfs();
  const alice = await server.user('alice');
  const bob = await server.user('bob');
  await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'weights' } });
  const url = server.gitUrl('alice', 'weights', alice.tokenBasic);
  const weights = randomBytes(3 * 1024 * 1024);
  const work = await lfsRepo(git, 'work', { 'model.bin': weights, 'README.md': Buffer.from('# weights\n') }, url);

  await t.test('push uploads objects; a fresh clone smudges byte-identical content', async (t) => {
    const push = await git.run(['push', 'origin', 'main'], { cwd: work });
    t.equal(push.code, 0, push.stderr);
    const clone = path.join(git.home, 'clone');
    const result = await git.run(['clone', server.gitUrl('alice', 'weights'), clone]);
    t.equal(result.code, 0, result.stderr);
    t.equal(sha256(await fs.readFile(path.join(clone, 'model.bin'))), sha256(weights));
    const listed = await server.api('GET', '/api/v1/repos/alice/weights/lfs/objects');
    t.equal(listed.status, 200);
    t.same(listed.body.objects.map((o: { oid: string; size: number }) => [o.oid, o.size]), [[sha256(weights), weights.length]]);
    const repo = await server.api('GET', '/api/v1/repos/alice/weights');
    t.same(repo.body.lfs, { objects: 1, bytes: weights.length }, 'storage accounting on the repo');
    const batch = await fetch(`${server.url}/alice/weights.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.git-lfs+json', accept: 'application/vnd.git-lfs+json' },
      body: JSON.stringify({ operation: 'download', objects: [{ oid: sha256(weights), size: weights.length }] }),
    });
    const href: string = (await batch.json()).objects[0].actions.download.href;
    const expected = server.config.s3 ? server.config.s3.endpoint! : server.url;
    t.ok(href.startsWith(expected), `download href goes to ${storeName === 's3' ? 'S3 directly (presigned)' : 'mlgit'}: ${href.slice(0, 60)}`);
  });

  await t.test('GIT_LFS_SKIP_SMUDGE clone, then git lfs pull; git lfs fetch --all', async (t) => {
    const dir = path.join(git.home, 'skip');
    await git.ok(['clone', server.gitUrl('alice', 'weights'), dir], { env: { GIT_LFS_SKIP_SMUDGE: '1' } });
    t.match(await fs.readFile(path.join(dir, 'model.bin'), 'utf8'), /^version https:\/\/git-lfs.github.com\/spec\/v1/);
    await git.ok(['lfs', 'pull'], { cwd: dir });
    t.equal(sha256(await fs.readFile(path.join(dir, 'model.bin'))), sha256(weights));

    const v2 = randomBytes(1024 * 1024);
    await git.commit(work, { 'model.bin': v2 }, 'v2 weights');
    await git.ok(['push', 'origin', 'main'], { cwd: work });
    const all = path.join(git.home, 'all');
    await git.ok(['clone', server.gitUrl('alice', 'weights'), all], { env: { GIT_LFS_SKIP_SMUDGE: '1' } });
    const fetched = await git.run(['lfs', 'fetch', '--all'], { cwd: all });
    t.equal(fetched.code, 0, fetched.stderr);
    const objects = await fs.readdir(path.join(all, '.git/lfs/objects'), { recursive: true });
    t.ok(objects.includes(path.join(sha256(weights).slice(0, 2), sha256(weights).slice(2, 4), sha256(weights))), 'old version fetched');
    t.ok(objects.includes(path.join(sha256(v2).slice(0, 2), sha256(v2).slice(2, 4), sha256(v2))), 'new version fetched');
  });

  await t.test('an interrupted download resumes with a Range request', async (t) => {
    const dir = path.join(git.home, 'resume');
    await git.ok(['clone', server.gitUrl('alice', 'weights'), dir], { env: { GIT_LFS_SKIP_SMUDGE: '1' } });
    await git.ok(['checkout', 'HEAD~1'], { cwd: dir, env: { GIT_LFS_SKIP_SMUDGE: '1' } });
    const oid = sha256(weights);
    const incomplete = path.join(dir, '.git/lfs/incomplete');
    await fs.mkdir(incomplete, { recursive: true });
    await fs.writeFile(path.join(incomplete, `${oid}.part`), weights.subarray(0, 1024 * 1024));
    const pull = await git.run(['lfs', 'pull'], { cwd: dir, env: { GIT_CURL_VERBOSE: '1', GIT_TRACE: '1' } });
    t.equal(pull.code, 0, pull.stderr.slice(-2000));
    t.match(pull.stderr, /Range: bytes=1048576-/i, 'the client asked for the rest only');
    t.equal(sha256(await fs.readFile(path.join(dir, 'model.bin'))), oid);
  });

  await t.test('500 small objects and a large one in one push', async (t) => {
    await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'many' } });
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 500; i++) files[`shard-${i}.bin`] = randomBytes(1024 + i);
    const dir = await git.workRepo('many', []);
    await git.ok(['lfs', 'track', '*.bin'], { cwd: dir });
    // The large object is written in chunks: neither the test nor mlgit ever holds it whole.
    const bigSize = (storeName === 'local' ? 300 : 64) * 1024 * 1024;
    const bigHash = await writeRandomFile(path.join(dir, 'big.bin'), bigSize);
    await git.commit(dir, files, 'many shards and a big one');
    await git.ok(['remote', 'add', 'origin', server.gitUrl('alice', 'many', alice.tokenBasic)], { cwd: dir });
    const push = await git.run(['push', 'origin', 'main'], { cwd: dir });
    t.equal(push.code, 0, push.stderr.slice(-2000));
    const clone = path.join(git.home, 'many-clone');
    await git.ok(['clone', server.gitUrl('alice', 'many'), clone]);
    for (const i of [0, 250, 499]) t.same(await fs.readFile(path.join(clone, `shard-${i}.bin`)), files[`shard-${i}.bin`]);
    t.equal(await hashFile(path.join(clone, 'big.bin')), bigHash, `the ${bigSize >> 20} MiB object is byte-identical`);
    t.equal((await server.api('GET', '/api/v1/repos/alice/many')).body.lfs.objects, 501);
  });

  await t.test('lfs gc removes objects only when no repository references them', async (t) => {
    const fork = await server.api('POST', '/api/v1/repos/alice/many/forks', { auth: bob.basic, body: { name: 'many-fork' } });
    t.equal(fork.status, 201);
    await server.api('DELETE', '/api/v1/repos/alice/many', { auth: alice.basic });
    t.same(await server.services.lfs.collectGarbage(true), [], 'the fork still references every object');
    await server.api('DELETE', '/api/v1/repos/bob/many-fork', { auth: bob.basic });
    const planned = await server.services.lfs.collectGarbage(true);
    t.equal(planned.length, 501, 'dry run lists the 501 orphans');
    t.ok(await server.services.store.stat(planned[0]!.oid), 'dry run deletes nothing');
    const removed = await server.services.lfs.collectGarbage(false);
    t.equal(removed.length, 501);
    t.equal(await server.services.store.stat(removed[0]!.oid), null, 'bytes are gone from the store');
    t.ok(await server.services.store.stat(sha256(weights)), 'objects still referenced are kept');
  });

  await t.test('a push whose LFS objects were not uploaded is rejected by pre-receive', async (t) => {
    await git.commit(work, { 'other.bin': randomBytes(4096) }, 'forgot to upload');
    const push = await git.run(['push', '--no-verify', 'origin', 'main'], { cwd: work });
    t.not(push.code, 0);
    t.match(push.stderr, /remote: error: this push references 1 Git LFS object\(s\) that were not uploaded/);
    t.match(push.stderr, /remote:\s+other\.bin/);
    t.match(push.stderr, /git lfs push --all origin/);
    await git.ok(['lfs', 'push', '--all', 'origin'], { cwd: work });
    const again = await git.run(['push', '--no-verify', 'origin', 'main'], { cwd: work });
    t.equal(again.code, 0, `the hint works: ${again.stderr}`);
  });

  await t.test('a read-only token cannot upload (403)', async (t) => {
    const readOnly = await server.api('POST', '/api/v1/user/tokens', { auth: alice.basic, body: { name: 'ro', scopes: ['read'] } });
    const dir = await lfsRepo(git, 'ro', { 'ro.bin': randomBytes(2048) }, server.gitUrl('alice', 'weights', `alice:${readOnly.body.token}`));
    const push = await git.run(['lfs', 'push', '--all', 'origin'], { cwd: dir });
    t.not(push.code, 0);
    t.match(push.stderr, /403|Forbidden|write access/i);
  });

  await t.test('locks: lock, a push by another user is blocked, unlock, force unlock by an admin', async (t) => {
    await server.api('PUT', '/api/v1/repos/alice/weights/collaborators/bob', { auth: alice.basic, body: { role: 'write' } });
    const lock = await git.run(['lfs', 'lock', 'model.bin'], { cwd: work });
    t.equal(lock.code, 0, lock.stderr);
    const bobDir = path.join(git.home, 'bob');
    await git.ok(['clone', server.gitUrl('alice', 'weights', bob.tokenBasic), bobDir]);
    await git.commit(bobDir, { 'model.bin': randomBytes(2048) }, 'bob edits a locked file');
    // --no-verify skips the client's own lock check: the server enforces locks in pre-receive.
    const blocked = await git.run(['push', '--no-verify', 'origin', 'main'], { cwd: bobDir });
    t.not(blocked.code, 0);
    t.match(blocked.stderr, /remote: error: model\.bin is locked by alice/);
    const bobUnlock = await git.run(['lfs', 'unlock', 'model.bin'], { cwd: bobDir });
    t.not(bobUnlock.code, 0, 'bob cannot unlock alice\'s lock without --force');
    const unlocked = await git.run(['lfs', 'unlock', 'model.bin'], { cwd: work });
    t.equal(unlocked.code, 0, unlocked.stderr);
    await git.ok(['lfs', 'lock', 'model.bin'], { cwd: bobDir });
    const adminUrl = server.gitUrl('alice', 'weights', `admin:${server.admin.password}`);
    const forced = await git.run(['-c', `remote.origin.url=${adminUrl}`, 'lfs', 'unlock', '--force', 'model.bin'], { cwd: work });
    t.equal(forced.code, 0, `the site admin breaks bob's lock: ${forced.stderr}`);
    t.same((await git.ok(['lfs', 'locks'], { cwd: work })).trim(), '');
  });

  await t.test('private repo with credentials from a credential helper', async (t) => {
    await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'secret', private: true } });
    const helper = path.join(git.home, 'cred-helper.sh');
    await fs.writeFile(helper, `#!/bin/sh\necho username=alice\necho password=${alice.token}\n`, { mode: 0o755 });
    const dir = await lfsRepo(git, 'secret', { 'secret.bin': randomBytes(8192) }, server.gitUrl('alice', 'secret'));
    const withHelper = ['-c', `credential.helper=${helper}`];
    const push = await git.run([...withHelper, 'push', 'origin', 'main'], { cwd: dir });
    t.equal(push.code, 0, push.stderr);
    const clone = path.join(git.home, 'secret-clone');
    const result = await git.run([...withHelper, 'clone', server.gitUrl('alice', 'secret'), clone]);
    t.equal(result.code, 0, result.stderr);
    t.same(await fs.readFile(path.join(clone, 'secret.bin')), await fs.readFile(path.join(dir, 'secret.bin')));
  });

  await t.test('a fork can download its parent\'s objects', async (t) => {
    const fork = await server.api('POST', '/api/v1/repos/alice/weights/forks', { auth: bob.basic });
    t.equal(fork.status, 201);
    const clone = path.join(git.home, 'fork-clone');
    const result = await git.run(['clone', server.gitUrl('bob', 'weights'), clone]);
    t.equal(result.code, 0, result.stderr);
    t.equal((await fs.readFile(path.join(clone, 'model.bin'))).length > 0, true);
  });
});
