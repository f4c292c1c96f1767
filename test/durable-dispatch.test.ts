// Issue 16, hole 5: an accepted push and the runs it owes are recorded together (the push
// outbox, server/domain/push-outbox.ts), so a crash or a database outage at any moment leaves
// either no push or a push whose runs start once the service is back.
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GitClient } from './helpers/git-client.ts';
import { createTestDatabase } from './helpers/postgres.ts';
import { eventually, manifest } from './helpers/runs.ts';
import { serverWithCuttable } from './helpers/service-outage.ts';
import { spawnServer, type ServerProcess } from './helpers/server-process.ts';

const PASSWORD = 'durable-dispatch-admin-pw';
const AUTH = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
// 20 kills on the embedded default (issue 16); fewer on Postgres + Redis, where a kill that catches
// a job BullMQ had handed out waits out its lock (30 s) and a stalled-job check before it runs
// again. The env sets both.
const TRIALS = process.env.DURABLE_DISPATCH_TRIALS === undefined ? null : Number(process.env.DURABLE_DISPATCH_TRIALS);
/** A loaded CI machine starts the embedded database slowly (PGlite is WASM). */
const START_MS = 180_000;
// A kill may also catch the run itself mid-way: the stall sweep retries it as an infra error.
const PROJECT = manifest('jobs:\n  check:\n    kind: train\n    command: echo ok\n    retries: {max: 3, when: [infra_error]}\n');
const BACK_MSG = /runs will start when the service is back/;

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

/** Grace 0 is right for one node: pushes in flight here are excluded by the reconciler itself. */
function serverEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MLGIT_DATA_DIR: dataDir,
    MLGIT_ADMIN_PASSWORD: PASSWORD,
    MLGIT_UNSAFE_NO_SANDBOX: 'true',
    MLGIT_PUSH_OUTBOX_GRACE_MS: '0',
    MLGIT_PUSH_OUTBOX_INTERVAL_MS: '300',
    MLGIT_RUN_STALL_TIMEOUT_MS: '2000',
    ...extra,
  };
}

/** Creates admin/victim and a work tree; `remote` takes the URL of the server running now (a restart changes the port). */
async function setup(t: TapTest, server: ServerProcess, git: GitClient): Promise<{ work: string; remote: (url: string) => string }> {
  const created = await fetch(`${server.url}/api/v1/repos`, { method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json' }, body: '{"name":"victim"}' });
  t.equal(created.status, 201);
  const work = await git.workRepo('work', [{ 'README.md': '# victim\n' }]);
  return { work, remote: (url) => url.replace('http://', `http://admin:${PASSWORD}@`) + '/admin/victim.git' };
}

async function runsOf(url: string, sha: string): Promise<{ job: string; status: string }[]> {
  const response = await fetch(`${url}/api/v1/repos/admin/victim/runs?commit=${sha}&per_page=100`, { headers: { authorization: AUTH } });
  return response.ok ? ((await response.json()) as { job: string; status: string }[]) : [];
}

/**
 * The push's runs exist exactly once and finish. Within 120 s: a job BullMQ had handed to the
 * killed server is handed out again once its lock (30 s) has lapsed and the next stalled-job
 * check (every 30 s) has seen it, so up to a minute before it even starts.
 */
async function runsFinish(t: TapTest, url: string, sha: string, what: string): Promise<void> {
  const runs = await eventually(() => runsOf(url, sha), (r) => r.length > 0 && r.every((run) => run.status !== 'queued' && run.status !== 'running'), `${what}: runs of ${sha.slice(0, 7)}`, 120_000);
  t.same(
    runs.map((r) => [r.job, r.status]),
    [['check', 'success']],
    `${what}: one run, finished`,
  );
}

/** main as git left it on disk: the loose ref (git writes it on every update), else packed-refs. */
async function mainAt(dataDir: string): Promise<string | null> {
  const repos = path.join(dataDir, 'repos');
  // repos/<shard>/<id>.git, listed level by level: a recursive listing races with repacks.
  const shards = await fs.readdir(repos).catch(() => [] as string[]);
  const found = await Promise.all(shards.map(async (shard) => (await fs.readdir(path.join(repos, shard))).filter((e) => e.endsWith('.git')).map((e) => path.join(shard, e))));
  const dir = found.flat()[0];
  if (!dir) return null;
  const loose = await fs.readFile(path.join(repos, dir, 'refs/heads/main'), 'utf8').catch(() => null);
  if (loose) return loose.trim();
  const packed = await fs.readFile(path.join(repos, dir, 'packed-refs'), 'utf8').catch(() => '');
  return /^([0-9a-f]{40}) refs\/heads\/main$/m.exec(packed)?.[1] ?? null;
}

/** The embedded default, and production's Postgres with BullMQ on Redis (issue 16's quality bar). */
const SIGKILL_SETUPS: { name: string; trials: number; services: () => Promise<{ env: Record<string, string>; drop: () => Promise<void> }> }[] = [
  { name: 'embedded', trials: TRIALS ?? 20, services: async () => ({ env: {}, drop: async () => {} }) },
  {
    name: 'Postgres and Redis',
    trials: TRIALS ?? 5,
    services: async () => {
      const database = await createTestDatabase();
      const redis = process.env.MLGIT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
      return { env: { DATABASE_URL: database.url, REDIS_URL: redis, MLGIT_REDIS_PREFIX: `mlgit-kill-${process.pid}-${Date.now()}` }, drop: () => database.drop() };
    },
  },
];

for (const deployment of SIGKILL_SETUPS) {
  t.test(`SIGKILL between post-receive start and its answer, ${deployment.trials} trials (${deployment.name}): the runs start after restart`, async (t) => {
    const services = await deployment.services();
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-durable-'));
    const env = serverEnv(dataDir, services.env);
    let server = await spawnServer(env, START_MS);
    t.teardown(async () => {
      server.child.kill('SIGKILL');
      await server.exited;
      await services.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    });
    const git = await GitClient.create(t);
    const { work, remote } = await setup(t, server, git);
    await git.commit(work, { 'mlproject.yaml': PROJECT }, 'project');
    await git.ok(['push', remote(server.url), 'main'], { cwd: work });

    const started = Date.now();
    for (let trial = 1; trial <= deployment.trials; trial++) {
      const before = await mainAt(dataDir);
      const sha = await git.commit(work, { 'trial.txt': `${trial}\n` }, `trial ${trial}`);
      const push = git.run(['push', remote(server.url), 'main'], { cwd: work });
      // git moves the ref right before it starts post-receive; a tight poll, so the delay below is the delay.
      const deadline = Date.now() + 30_000;
      while ((await mainAt(dataDir)) !== sha && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
      if ((await mainAt(dataDir)) !== sha) throw new Error(`trial ${trial}: the push never moved main: ${(await push).stderr}`);
      const delayMs = Math.floor(Math.random() * 300);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      server.child.kill('SIGKILL');
      await server.exited;
      const pushed = await push;
      server = await spawnServer(env, START_MS);
      const at = await mainAt(dataDir);
      t.ok(at === sha || at === before, `trial ${trial} (kill after ${delayMs} ms, push exit ${pushed.code}): main is old or new`);
      if (at === sha) await runsFinish(t, server.url, sha, `trial ${trial}`);
    }
    t.comment(`${deployment.trials} trials in ${Math.round((Date.now() - started) / 1000)} s`);
    // A row whose push was killed before git moved the ref waits out the reconciler's grace before it is dropped.
    const backlog = async () => ((await (await fetch(`${server.url}/readyz`)).json()) as { push_outbox_backlog: number }).push_outbox_backlog;
    t.equal(await eventually(backlog, (n) => n === 0, 'the outbox drained', 60_000), 0, 'nothing left in the outbox');
  });
}

t.test('Postgres cut as post-receive begins: the push is accepted, its runs start once the database is back', async (t) => {
  const { server, proxy, watcher, dataDir } = await serverWithCuttable(t, 'postgres', (dataDir, { databaseUrl }) => serverEnv(dataDir, { DATABASE_URL: databaseUrl }), START_MS);
  const git = await GitClient.create(t);
  const { work, remote } = await setup(t, server, git);
  const sha = await git.commit(work, { 'mlproject.yaml': PROJECT }, 'project');

  // The outbox row is the last thing pre-receive writes: cut the database right after it, polling
  // back to back (post-receive follows within milliseconds; a slower poll can miss the moment).
  // The cut can also land between the row's commit and its answer reaching mlgit: pre-receive then
  // refuses the push whole (nothing moved; the reconciler drops the row) and the push is tried again.
  let pushed: { code: number | null; stderr: string } | null = null;
  for (let attempt = 1; attempt <= 5 && pushed === null; attempt++) {
    const seen = Number((await watcher.query('select coalesce(max(id), 0) as id from push_outbox')).rows[0].id);
    const push = git.run(['push', remote(server.url), 'main'], { cwd: work });
    const recordedBy = Date.now() + 30_000;
    while (Number((await watcher.query('select count(*) as n from push_outbox where id > $1', [seen])).rows[0].n) === 0) {
      if (Date.now() > recordedBy) throw new Error('pre-receive never recorded the push');
    }
    proxy.cut();
    const result = await push;
    if (result.code !== 0 && /could not record this push/.test(result.stderr)) {
      t.comment(`attempt ${attempt}: cut before pre-receive heard back from the database; refused whole, trying again`);
      t.not(await mainAt(dataDir), sha, 'the refused push moved nothing');
      proxy.restore();
      continue;
    }
    pushed = result;
  }
  if (pushed === null) throw new Error('5 cuts all landed before pre-receive heard back');
  t.equal(pushed.code, 0, `the push is accepted: ${pushed.stderr}`);
  t.match(pushed.stderr, BACK_MSG, 'the pusher is told the runs start later');
  t.equal(await mainAt(dataDir), sha, 'main moved');
  await new Promise((resolve) => setTimeout(resolve, 3000));
  // Should post-receive have created the run in the moment before the cut, it still cannot start.
  const started = await watcher.query("select count(*) as n from runs where status <> 'queued'");
  t.equal(Number(started.rows[0].n), 0, 'no run starts while the database is down');
  proxy.restore();
  await runsFinish(t, server.url, sha, 'after the outage').catch((err: unknown) => {
    t.comment(server.output());
    throw err;
  });
  const pushes = await watcher.query('select count(*) as n from pushes where new_sha = $1', [sha]);
  t.equal(Number(pushes.rows[0].n), 1, 'the push is recorded once');
});

t.test('Redis cut as post-receive begins: the push does not wait for it, its runs start once Redis is back', async (t) => {
  const { server, proxy, dataDir } = await serverWithCuttable(
    t,
    'redis',
    (dataDir, { databaseUrl, redisUrl }) => serverEnv(dataDir, { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, MLGIT_REDIS_PREFIX: `mlgit-durable-${process.pid}-${Date.now()}` }),
    START_MS,
  );
  const git = await GitClient.create(t);
  const { work, remote } = await setup(t, server, git);
  const sha = await git.commit(work, { 'mlproject.yaml': PROJECT }, 'project');

  // Nothing before post-receive touches Redis (the outbox is in the database): cut it first.
  proxy.cut();
  const pushStarted = Date.now();
  const pushed = await git.run(['push', remote(server.url), 'main'], { cwd: work });
  const took = Date.now() - pushStarted;
  t.equal(pushed.code, 0, `the push is accepted: ${pushed.stderr}`);
  t.ok(took < 8_000, `the push took ${took} ms with Redis away, never its 10 s answer bound (the hook would wait up to 120 s)`);
  t.equal(await mainAt(dataDir), sha, 'main moved');
  const ready = await fetch(`${server.url}/readyz`);
  t.equal(ready.status, 503, '/readyz reports the queue unreachable');
  proxy.restore();
  await runsFinish(t, server.url, sha, 'after the outage').catch((err: unknown) => {
    t.comment(server.output());
    throw err;
  });
  t.equal((await fetch(`${server.url}/readyz`)).status, 200, 'ready again');
});
