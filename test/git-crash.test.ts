import t from 'tap';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GitClient } from './helpers/git-client.ts';
import { createTestDatabase } from './helpers/postgres.ts';
import { spawnServer } from './helpers/server-process.ts';

const PASSWORD = 'crash-test-admin-pw';

async function findQuarantine(dataDir: string): Promise<boolean> {
  const entries = await fs.readdir(dataDir, { recursive: true }).catch(() => [] as string[]);
  return entries.some((e) => /tmp_objdir-incoming/.test(e));
}

t.test('SIGKILL in the middle of a push leaves the repo consistent; the next push works', async (t) => {
  const database = await createTestDatabase();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-crash-'));
  t.teardown(async () => {
    await database.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  const env = { MLGIT_DATA_DIR: dataDir, DATABASE_URL: database.url, MLGIT_ADMIN_PASSWORD: PASSWORD };
  const git = await GitClient.create(t);

  let server = await spawnServer(env);
  t.teardown(() => {
    server.child.kill('SIGKILL');
  });
  const auth = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
  const created = await fetch(`${server.url}/api/v1/repos`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: '{"name":"victim"}' });
  t.equal(created.status, 201);
  const remote = (url: string) => url.replace('http://', `http://admin:${PASSWORD}@`) + '/admin/victim.git';

  const work = await git.workRepo('work');
  await git.ok(['push', remote(server.url), 'main'], { cwd: work });
  const before = (await git.ok(['rev-parse', 'HEAD'], { cwd: work })).trim();
  const crashing = await git.commit(work, { 'big.bin': randomBytes(40 * 1024 * 1024) }, 'big');

  // Throttle nothing: just kill the server as soon as git has started receiving into quarantine.
  const push = git.run(['push', remote(server.url), 'main'], { cwd: work });
  const deadline = Date.now() + 30_000;
  while (!(await findQuarantine(dataDir)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.ok(await findQuarantine(dataDir), 'the push was in flight');
  server.child.kill('SIGKILL');
  await server.exited;
  const interrupted = await push;
  t.not(interrupted.code, 0, 'the interrupted push failed for the client');

  server = await spawnServer(env);
  const refs = await git.ok(['ls-remote', remote(server.url), 'refs/heads/main']);
  t.ok(refs.startsWith(before) || refs.startsWith(crashing), 'main is at the old or the new commit, nothing in between');

  const fsckDirs = (await fs.readdir(path.join(dataDir, 'repos'), { recursive: true })).filter((e) => e.endsWith('.git'));
  t.equal(fsckDirs.length, 1);
  for (const dir of fsckDirs) {
    const fsck = await git.run(['fsck', '--no-dangling'], { cwd: path.join(dataDir, 'repos', dir) });
    t.equal(fsck.code, 0, `git fsck clean: ${fsck.stderr}`);
  }

  const again = await git.run(['push', remote(server.url), 'main'], { cwd: work });
  // On failure the restarted server's own output says why.
  t.equal(again.code, 0, again.code === 0 ? again.stderr : `${again.stderr}\nserver output:\n${server.output().slice(-4000)}`);
  const clone = path.join(git.home, 'clone');
  await git.ok(['clone', remote(server.url), clone]);
  t.equal((await git.ok(['rev-parse', 'HEAD'], { cwd: clone })).trim(), crashing, 'the retried push landed whole');
});
