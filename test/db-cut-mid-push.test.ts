// Issue 13, fault cases: Postgres unreachable for 10 s at a random moment of a push (a TCP proxy
// in front of it, cut by the test; test/durable-dispatch.test.ts covers the cut right after the
// outbox row). Every push ends whole: it fails and leaves nothing (old main, no push row, no run),
// or it succeeds with its one push row and its run, which finishes once the database is back.
import t from 'tap';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { GitClient } from './helpers/git-client.ts';
import { serverWithCuttable } from './helpers/service-outage.ts';
import { eventually, manifest } from './helpers/runs.ts';

const PASSWORD = 'db-cut-admin-pw';
const AUTH = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
const OUTAGE_MS = 10_000;
/**
 * When the database goes, each moment an event the test sees (never a delay): before git reaches
 * the server, as the pack arrives (git's quarantine directory appears), and as pre-receive ends
 * (its outbox row is committed; the answer may or may not reach mlgit before the cut).
 */
const MOMENTS = [
  { name: 'as the push starts', trigger: 'start' },
  { name: 'as the pack arrives (quarantine created)', trigger: 'quarantine' },
  { name: 'as pre-receive ends (outbox row committed)', trigger: 'outbox' },
] as const;
const PROJECT = manifest('jobs:\n  check:\n    kind: train\n    command: echo ok\n');

t.test(`Postgres away for ${OUTAGE_MS / 1000} s at ${MOMENTS.length} moments of a push: never half a push`, async (t) => {
  const { server, proxy, watcher, dataDir } = await serverWithCuttable(
    t,
    'postgres',
    (dataDir, { databaseUrl }) => ({ MLGIT_DATA_DIR: dataDir, MLGIT_ADMIN_PASSWORD: PASSWORD, MLGIT_UNSAFE_NO_SANDBOX: 'true', DATABASE_URL: databaseUrl, MLGIT_PUSH_OUTBOX_INTERVAL_MS: '500', MLGIT_PUSH_OUTBOX_GRACE_MS: '0' }),
    180_000,
  );
  const created = await fetch(`${server.url}/api/v1/repos`, { method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: '{"name":"victim"}' });
  t.equal(created.status, 201);
  const git = await GitClient.create(t);
  const work = await git.workRepo('work', [{ 'mlproject.yaml': PROJECT }]);
  const remote = `${server.url.replace('http://', `http://admin:${PASSWORD}@`)}/admin/victim.git`;
  await git.ok(['push', remote, 'main'], { cwd: work });
  const mainOnServer = async () => (await git.ok(['ls-remote', remote, 'refs/heads/main'])).split('\t')[0]!;
  const count = async (query: string, sha: string) => Number((await watcher.query(query, [sha])).rows[0].n);

  const quarantines = async () => (await fs.readdir(path.join(dataDir, 'repos/01/1.git/objects'))).filter((e) => e.startsWith('tmp_objdir-incoming-'));
  const outcomes: string[] = [];
  for (const [index, moment] of MOMENTS.entries()) {
    const trial = index + 1;
    const before = await mainOnServer();
    // A few MB so the pack takes a moment to arrive.
    const sha = await git.commit(work, { 'weights.txt': randomBytes(3 * 1024 * 1024).toString('base64') }, `trial ${trial}`);
    let done = false;
    const seen = Number((await watcher.query('select coalesce(max(id), 0) as id from push_outbox')).rows[0].id);
    const push = git.run(['push', remote, 'main'], { cwd: work }).finally(() => (done = true));
    if (moment.trigger === 'quarantine') while ((await quarantines()).length === 0 && !done) await new Promise((resolve) => setTimeout(resolve, 1));
    // Back to back: post-receive follows within milliseconds.
    if (moment.trigger === 'outbox') while (Number((await watcher.query('select count(*) as n from push_outbox where id > $1', [seen])).rows[0].n) === 0 && !done);
    proxy.cut();
    t.notOk(done, `trial ${trial}: the database went ${moment.name}, with the push still open`);
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    proxy.restore();
    const pushed = await push;
    const at = await mainOnServer();
    const what = `trial ${trial}, cut ${moment.name} (push exit ${pushed.code})`;
    if (at === sha) {
      // Accepted: exactly one push row and one run, which finishes.
      await eventually(() => count('select count(*) as n from pushes where new_sha = $1', sha), (n) => n === 1, `${what}: the push row`);
      const runs = await eventually(
        async () => (await watcher.query('select status from runs where commit_sha = $1', [sha])).rows as { status: string }[],
        (rows) => rows.length === 1 && rows[0]!.status === 'success',
        `${what}: its run`,
      );
      t.equal(runs.length, 1, `${what}: accepted, with its push row and one run that succeeded`);
      outcomes.push('accepted');
    } else {
      t.equal(at, before, `${what}: refused, main is where it was`);
      t.not(pushed.code, 0, `${what}: the pusher was told it failed`);
      t.equal(await count('select count(*) as n from pushes where new_sha = $1', sha), 0, `${what}: no push row`);
      t.equal(await count('select count(*) as n from runs where commit_sha = $1', sha), 0, `${what}: no run`);
      // A row committed in the moment before the cut is dropped by the reconciler: its ref never moved.
      await eventually(() => count('select count(*) as n from push_outbox where new_sha = $1', sha), (n) => n === 0, `${what}: the outbox emptied`);
      t.pass(`${what}: nothing left in the outbox`);
      // The next trial pushes on top of what the server has.
      await git.ok(['reset', '--hard', 'HEAD~1'], { cwd: work });
      outcomes.push('refused');
    }
  }
  t.comment(`outcomes: ${outcomes.join(', ')}`);
});
