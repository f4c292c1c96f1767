import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer } from './helpers/server.ts';

const LFS_JSON = 'application/vnd.git-lfs+json';

// A data dir on a 4 MiB tmpfs: an upload that does not fit must get 507, and leave nothing behind.
t.test('an upload onto a full disk answers 507 and stores nothing', async (t) => {
  const mount = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]);
  } catch {
    t.plan(0, 'cannot mount a tmpfs here (needs root)');
    return;
  }
  t.teardown(async () => {
    execFileSync('umount', ['-l', mount]);
    await fs.rm(mount, { recursive: true, force: true });
  });
  const server = await startServer(t, { config: { dataDir: mount } });
  const alice = await server.user('alice');
  await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'full' } });
  const bytes = randomBytes(6 * 1024 * 1024);
  const oid = createHash('sha256').update(bytes).digest('hex');
  const batch = await fetch(`${server.url}/alice/full.git/info/lfs/objects/batch`, {
    method: 'POST',
    headers: { 'content-type': LFS_JSON, authorization: `Basic ${Buffer.from(alice.tokenBasic).toString('base64')}` },
    body: JSON.stringify({ operation: 'upload', objects: [{ oid, size: bytes.length }] }),
  });
  const upload = (await batch.json()).objects[0].actions.upload;
  const response = await fetch(upload.href, { method: 'PUT', headers: upload.header, body: bytes });
  t.equal(response.status, 507);
  t.match(response.headers.get('content-type'), LFS_JSON);
  t.match(await response.json(), { message: /out of storage space/ });
  t.equal(await server.services.store.stat(oid), null, 'nothing stored');
  const leftovers = (await fs.readdir(path.join(mount, 'lfs'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  t.same(leftovers, [], 'no temp file left on the full disk');
  t.equal((await fetch(`${server.url}/healthz`)).status, 200);
});
