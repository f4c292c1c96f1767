// Issue 13, fault cases: the S3 store unreachable (a TCP proxy in front of s3rver, cut by the test).
// The LFS batch answers 503 with Retry-After before the client sends a byte, the push fails
// cleanly (no ref moved, no object recorded, nothing in the bucket), and once S3 is back the same
// push goes through and a clone gets the bytes back.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { GitClient } from './helpers/git-client.ts';
import { startS3rver, S3RVER_BUCKET } from './helpers/s3rver.ts';
import { startServer } from './helpers/server.ts';
import { cuttableProxy } from './helpers/tcp-proxy.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

t.test('S3 unreachable: LFS batch 503 with Retry-After, nothing half-written, all well once it is back', async (t) => {
  const bucketDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-s3-outage-'));
  const s3 = await startS3rver(bucketDir);
  const proxy = await cuttableProxy({ host: '127.0.0.1', port: s3.port });
  t.teardown(async () => {
    await proxy.close();
    await s3.stop();
    await fs.rm(bucketDir, { recursive: true, force: true });
  });
  const server = await startServer(t, {
    config: { s3: { endpoint: `http://127.0.0.1:${proxy.port}`, bucket: S3RVER_BUCKET, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true } },
  });
  const git = await GitClient.create(t);
  await git.enableLfs();
  const alice = await server.user('alice');
  await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'weights' } });
  const weights = randomBytes(2 * 1024 * 1024);
  const oid = sha256(weights);
  const work = await git.workRepo('work', []);
  await git.ok(['lfs', 'track', '*.bin'], { cwd: work });
  await git.commit(work, { 'model.bin': weights }, 'weights');
  await git.ok(['remote', 'add', 'origin', server.gitUrl('alice', 'weights', alice.tokenBasic)], { cwd: work });
  const objectsBefore = await filesUnder(bucketDir);

  proxy.cut();
  const batch = (operation: string) =>
    fetch(`${server.url}/alice/weights.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(alice.basic).toString('base64')}`, 'content-type': 'application/vnd.git-lfs+json', accept: 'application/vnd.git-lfs+json' },
      body: JSON.stringify({ operation, transfers: ['basic'], objects: [{ oid, size: weights.length }] }),
    });
  for (const operation of ['upload', 'download']) {
    const answer = await batch(operation);
    t.equal(answer.status, 503, `${operation} batch: 503`);
    t.equal(answer.headers.get('retry-after'), '10', `${operation} batch: Retry-After`);
    t.match(await answer.json(), { message: /object store is unreachable/ }, `${operation} batch: says why, in LFS's error format`);
  }
  // No retries: the push must fail now, not wait for the store.
  const push = await git.run(['-c', 'lfs.transfer.maxretries=0', 'push', 'origin', 'main'], { cwd: work });
  t.not(push.code, 0, 'the push fails while S3 is away');
  t.equal((await git.run(['ls-remote', server.gitUrl('alice', 'weights', alice.tokenBasic), 'refs/heads/main'])).stdout.trim(), '', 'no ref moved');
  const listed = await server.api('GET', '/api/v1/repos/alice/weights/lfs/objects', { auth: alice.basic });
  t.match(listed.body, { objects: [], total_objects: 0 }, 'no LFS object recorded');
  t.same(await filesUnder(bucketDir), objectsBefore, 'nothing written to the bucket');

  proxy.restore();
  const again = await git.run(['push', 'origin', 'main'], { cwd: work });
  t.equal(again.code, 0, `the same push once S3 is back: ${again.stderr}`);
  const clone = path.join(git.home, 'clone');
  t.equal((await git.run(['clone', server.gitUrl('alice', 'weights', alice.tokenBasic), clone])).code, 0);
  t.equal(sha256(await fs.readFile(path.join(clone, 'model.bin'))), oid, 'the clone has the bytes');
});
