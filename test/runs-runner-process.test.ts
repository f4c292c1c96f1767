// Production shape: mlgit serve with BullMQ on real Redis and no embedded runner; jobs run in a
// separate `mlgit runner` process. Killing that runner mid-job leaves the run to stall detection:
// retried when retries.when allows infra_error, else marked error; never left running.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { GitClient } from './helpers/git-client.ts';
import { manifest, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '../scripts/mlgit.mjs');
const REDIS_URL = process.env.MLGIT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

t.test('a separate runner process on BullMQ, killed mid-job', async (t) => {
  const prefix = `mlgit-test-${randomBytes(4).toString('hex')}`;
  const runnerToken = randomBytes(24).toString('hex');
  const server = await startRunsServer(t, { runner: 'off', runnerToken, stallTimeoutMs: 2500 }, { config: { redisUrl: REDIS_URL, redisPrefix: prefix } });
  const client = await GitClient.create(t);
  const alice = await server.user('alice');
  const runners = new Set<ChildProcess>();
  t.teardown(() => {
    for (const child of runners) child.kill('SIGKILL');
  });
  const startRunner = () => {
    const child = spawn(process.execPath, [CLI, 'runner'], {
      env: {
        PATH: process.env.PATH ?? '',
        REDIS_URL,
        MLGIT_REDIS_PREFIX: prefix,
        MLGIT_SERVER_URL: server.url,
        MLGIT_RUNNER_TOKEN: runnerToken,
        MLGIT_RUNTIME: 'process',
        MLGIT_RUNNER_HEARTBEAT_MS: '200',
        MLGIT_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    runners.add(child);
    child.on('exit', () => runners.delete(child));
    return child;
  };

  const { sha, push } = await pushProject(server, client, alice, 'remote', {
    'mlproject.yaml': manifest(`jobs:
  quick:
    kind: custom
    command: echo done on a separate runner
  survivor:
    kind: custom
    command: test -e /tmp/mlgit-never || sleep 4
    retries: {max: 1, when: [infra_error]}
  victim:
    kind: custom
    command: sleep 4
`),
  });
  t.equal(push.code, 0, push.stderr);
  const queued = await waitForRuns(server, alice.basic, 'alice/remote', sha, { done: (runs) => runs.length === 3 });
  t.same(queued.map((r) => r.status), ['queued', 'queued', 'queued'], 'nobody runs jobs until a runner starts');

  const first = startRunner();
  // Wait until the long jobs are running on it, then kill it without a chance to report.
  await waitForRuns(server, alice.basic, 'alice/remote', sha, {
    done: (runs) => runs.find((r) => r.job === 'quick')?.status === 'success' && runs.filter((r) => r.status === 'running').length === 2,
  });
  first.kill('SIGKILL');
  const killedAt = Date.now();

  const settled = await waitForRuns(server, alice.basic, 'alice/remote', sha, {
    timeoutMs: 30_000,
    done: (runs) => runs.find((r) => r.job === 'victim')?.status === 'error' && runs.find((r) => r.job === 'survivor')?.attempt === 2,
  });
  const byJob = Object.fromEntries(settled.map((r) => [r.job, r]));
  t.match(byJob.victim.message, /stopped responding/);
  t.ok(Date.now() - killedAt < 15_000, 'stall detected within the stall timeout plus a sweep');
  t.equal(byJob.survivor.status, 'queued', 'retried as attempt 2');

  startRunner();
  const done = await waitForRuns(server, alice.basic, 'alice/remote', sha, { count: 3, timeoutMs: 60_000 });
  const final = Object.fromEntries(done.map((r) => [r.job, r]));
  t.equal(final.survivor.status, 'success', 'the second attempt ran on the new runner');
  t.equal(final.survivor.attempt, 2);
  t.equal(final.quick.status, 'success');
  const log = (await server.api('GET', `/api/v1/repos/alice/remote/runs/${final.quick.id}/logs`, { auth: alice.basic })).body;
  t.match(log, 'done on a separate runner');
  const survivorLog = (await server.api('GET', `/api/v1/repos/alice/remote/runs/${final.survivor.id}/logs`, { auth: alice.basic })).body;
  t.match(survivorLog, /stopped responding.*retrying/);
  t.match(survivorLog, /attempt 2/);

  const wrongToken = await fetch(`${server.url}/api/v1/runner/runs/${final.quick.id}/heartbeat?attempt=1`, { method: 'POST', headers: { authorization: 'Bearer nope' } });
  t.equal(wrongToken.status, 401, 'the runner API needs the runner token');
});

t.test('a new push to a ref cancels the queued runs of older pushes to it', async (t) => {
  const server = await startRunsServer(t, { runner: 'off' });
  const client = await GitClient.create(t);
  const alice = await server.user('alice');
  const first = await pushProject(server, client, alice, 'busy', {
    'mlproject.yaml': manifest(`jobs:
  train:
    kind: train
    command: "true"
  evaluate:
    kind: evaluate
    depends_on: [train]
    command: "true"
`),
  });
  t.equal(first.push.code, 0, first.push.stderr);
  await waitForRuns(server, alice.basic, 'alice/busy', first.sha, { done: (runs) => runs.length === 2 });
  const second = await client.commit(first.dir, { 'README.md': 'newer\n' }, 'newer');
  await client.ok(['push', 'origin', 'main'], { cwd: first.dir });
  const older = await waitForRuns(server, alice.basic, 'alice/busy', first.sha, { count: 2 });
  t.same(older.map((r) => r.status), ['cancelled', 'cancelled']);
  t.match(older[0].message, `superseded by a push of ${second.slice(0, 7)}`);
  const newer = await waitForRuns(server, alice.basic, 'alice/busy', second, { done: (runs) => runs.length === 2 });
  t.same(newer.map((r) => r.status), ['queued', 'queued'], 'the new push runs');

  // The older push's follow-up run late (its outbox row recovered after a crash, the newer push
  // already in): only runs made before the older push's own are its to cancel.
  const repo = await server.services.db.selectFrom('repos').select('id').where('name', '=', 'busy').executeTakeFirstOrThrow();
  const update = { ref: 'refs/heads/main', oldSha: '0'.repeat(40), newSha: first.sha };
  await server.services.runs.dispatcher.supersede(repo.id, update, Math.min(...older.map((r) => r.id as number)));
  const after = await waitForRuns(server, alice.basic, 'alice/busy', second, { done: (runs) => runs.length === 2 });
  t.same(after.map((r) => r.status), ['queued', 'queued'], 'a late follow-up of the older push leaves the newer push\'s runs alone');
});
