// What killed pushes and uploads leave behind (push quarantines, LFS temp files) is removed at
// start once it is surely abandoned, and only then: a live push's quarantine is never touched.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CrashLeftovers } from '../server/adapters/housekeeping/crash-leftovers.ts';
import { GitClient } from './helpers/git-client.ts';
import { createTestDatabase } from './helpers/postgres.ts';
import { spawnServer, type ServerProcess } from './helpers/server-process.ts';

const PASSWORD = 'leftovers-admin-pw';
const AUTH = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
const TWO_HOURS_AGO = new Date(Date.now() - 2 * 3_600_000);

async function leftovers(dataDir: string): Promise<string[]> {
  const all = await fs.readdir(dataDir, { recursive: true }).catch(() => [] as string[]);
  return all.filter((entry) => /objects\/tmp_objdir-incoming-[^/]+$/.test(entry) || /^lfs\/tmp\/[^/]+$/.test(entry));
}

async function waitUntil(probe: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function age(target: string, when: Date): Promise<void> {
  const info = await fs.lstat(target);
  if (info.isDirectory()) for (const child of await fs.readdir(target)) await age(path.join(target, child), when);
  await fs.lutimes(target, when, when);
}

async function kill(server: ServerProcess): Promise<void> {
  server.child.kill('SIGKILL');
  await server.exited;
}

t.test('a killed push and a killed LFS upload: their leftovers go at the next start, once abandoned', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-leftovers-'));
  // Postgres: four restarts of an embedded database cost minutes on a loaded machine.
  const database = await createTestDatabase();
  t.teardown(async () => {
    await database.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  const env = { MLGIT_DATA_DIR: dataDir, MLGIT_ADMIN_PASSWORD: PASSWORD, DATABASE_URL: database.url };
  const git = await GitClient.create(t);
  let server = await spawnServer(env);
  t.teardown(() => server.child.kill('SIGKILL'));
  const created = await fetch(`${server.url}/api/v1/repos`, { method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: '{"name":"victim"}' });
  t.equal(created.status, 201);
  const remote = (url: string) => url.replace('http://', `http://admin:${PASSWORD}@`) + '/admin/victim.git';
  const work = await git.workRepo('work');
  await git.ok(['push', remote(server.url), 'main'], { cwd: work });

  // A push killed while git receives into its quarantine.
  await git.commit(work, { 'big.bin': randomBytes(24 * 1024 * 1024) }, 'big');
  const push = git.run(['push', remote(server.url), 'main'], { cwd: work });
  await waitUntil(async () => (await leftovers(dataDir)).length > 0, 'a quarantine');
  await kill(server);
  await push;

  // An LFS upload killed mid-body: the client sends half and stalls.
  server = await spawnServer(env);
  const bytes = randomBytes(4 * 1024 * 1024);
  const oid = createHash('sha256').update(bytes).digest('hex');
  const batch = await fetch(`${server.url}/admin/victim.git/info/lfs/objects/batch`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/vnd.git-lfs+json' },
    body: JSON.stringify({ operation: 'upload', objects: [{ oid, size: bytes.length }] }),
  });
  const upload = (await batch.json()).objects[0].actions.upload;
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.subarray(0, bytes.length / 2));
    },
  });
  const put = fetch(upload.href, { method: 'PUT', headers: upload.header, body: stalled, duplex: 'half' } as RequestInit).catch(() => null);
  await waitUntil(async () => (await leftovers(dataDir)).some((e) => e.startsWith('lfs/')), 'an LFS temp file');
  await kill(server);
  await put;

  const left = await leftovers(dataDir);
  t.ok(left.some((e) => e.includes('tmp_objdir-incoming')) && left.some((e) => e.startsWith('lfs/')), `both kinds were left: ${left.join(', ')}`);

  // Fresh leftovers survive a start: they could belong to a push still running elsewhere.
  server = await spawnServer(env);
  await kill(server);
  t.same((await leftovers(dataDir)).sort(), left.sort(), 'recent leftovers are kept');

  for (const entry of left) await age(path.join(dataDir, entry), TWO_HOURS_AGO);
  server = await spawnServer(env);
  t.same(await leftovers(dataDir), [], 'abandoned leftovers are removed at start');
  t.match(server.output(), /removed what killed pushes and uploads left behind/);
  const again = await git.run(['push', remote(server.url), 'main'], { cwd: work });
  t.equal(again.code, 0, `the repository still takes the push: ${again.stderr}`);
});

t.test('the sweep counts what it frees and leaves live work alone', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-sweep-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const objects = path.join(dataDir, 'repos', '01', '1.git', 'objects');
  const stale = path.join(objects, 'tmp_objdir-incoming-stale');
  const live = path.join(objects, 'tmp_objdir-incoming-live');
  const staleUpload = path.join(dataDir, 'lfs', 'tmp', `${'a'.repeat(64)}.x`);
  for (const dir of [path.join(stale, 'pack'), path.join(live, 'pack'), path.dirname(staleUpload)]) await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(stale, 'pack', 'p.pack'), Buffer.alloc(1000));
  await fs.writeFile(path.join(live, 'pack', 'p.pack'), Buffer.alloc(500));
  await fs.writeFile(staleUpload, Buffer.alloc(300));
  await age(stale, TWO_HOURS_AGO);
  await age(staleUpload, TWO_HOURS_AGO);
  // A live quarantine whose directory is old but whose pack is still being written.
  await fs.lutimes(live, TWO_HOURS_AGO, TWO_HOURS_AGO);
  await fs.writeFile(path.join(objects, 'keep-me'), 'not a quarantine');
  await age(path.join(objects, 'keep-me'), TWO_HOURS_AGO);

  const swept = await new CrashLeftovers(dataDir, 3_600_000).sweep();
  t.same(swept, { removed: 2, bytes: 1300 });
  t.same((await fs.readdir(objects)).sort(), ['keep-me', 'tmp_objdir-incoming-live']);
  t.same(await fs.readdir(path.dirname(staleUpload)), []);
});
