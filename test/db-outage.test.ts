// Results survive a database outage (issue 16, hole 5): Postgres disappears for 15 s while a job
// runs and stays away past its end. The runner retries its reports until the server takes them,
// runner API requests meanwhile get 503 with Retry-After, and the stall detector (5 s here) does
// not declare the run dead for heartbeats the database could not store: the run ends `success`
// with its metrics, output, a log without duplicates and the git note.
import t from 'tap';
import { GitClient } from './helpers/git-client.ts';
import { TEST_POSTGRES_URL, createTestDatabase } from './helpers/postgres.ts';
import { eventually, manifest, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';
import { cuttableProxy } from './helpers/tcp-proxy.ts';

const OUTAGE_MS = 15_000;

t.test('a Postgres outage covering the end of a job loses nothing', async (t) => {
  const upstream = new URL(TEST_POSTGRES_URL);
  const proxy = await cuttableProxy({ host: upstream.hostname, port: Number(upstream.port || 5432) });
  t.teardown(proxy.close);
  const database = await createTestDatabase();
  t.teardown(database.drop);
  const databaseUrl = new URL(database.url);
  databaseUrl.host = `127.0.0.1:${proxy.port}`;
  const server = await startRunsServer(t, { runtime: 'process', stallTimeoutMs: 5000 }, { config: { databaseUrl: databaseUrl.toString() } });
  const client = await GitClient.create(t);
  const alice = await server.user('alice');

  const { sha, push } = await pushProject(server, client, alice, 'outage', {
    'mlproject.yaml': manifest(`jobs:
  train:
    kind: train
    command: sh job.sh
    outputs: [{path: model.txt, type: model}]
    metrics: {path: metrics.json, format: json}
`),
    'job.sh': `echo job-start\nsleep 3\necho m > "$MLP_OUTPUT_DIR/model.txt"\necho '{"accuracy": 0.93}' > metrics.json\necho job-end\n`,
  });
  if (push.code !== 0) throw new Error(push.stderr);
  const [queued] = await waitForRuns(server, alice.basic, 'alice/outage', sha, { done: (runs) => runs.length === 1 });
  const logs = () => server.api('GET', `/api/v1/repos/alice/outage/runs/${queued.id}/logs`, { auth: alice.basic }).then((r) => String(r.body));
  await eventually(logs, (text) => text.includes('job-start'), 'the job started');
  const asRunner = (path: string, body?: string) =>
    fetch(`${server.url}/api/v1/runner/runs/${queued.id}/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.services.runs.runnerToken}`, ...(body ? { 'content-type': 'application/octet-stream' } : {}) },
      body,
    });
  // Batch 0 is stored (the job's output follows it); sent again, as after a lost answer, it is not stored twice.
  t.equal((await asRunner('log?attempt=1&seq=0', 'resent-batch\n')).status, 200, 'a repeated log batch is acknowledged');

  const started = Date.now();
  proxy.cut();
  const heartbeat = await asRunner('heartbeat?attempt=1');
  t.equal(heartbeat.status, 503, 'runner requests get 503 while the database is unreachable');
  t.ok(Number(heartbeat.headers.get('retry-after')) > 0, 'with Retry-After');
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - (Date.now() - started)));
  proxy.restore();
  t.comment(`database unreachable for ${Date.now() - started} ms, from 0 s to past the end of the 3 s job`);
  // Judge at the worst moment: the database is back and heartbeat_at is three stall windows old.
  const swept = await server.services.runs.lifecycle.sweep();
  t.same(swept, { retried: 0, failed: 0, reenqueued: 0 }, 'the stall detector right after the outage leaves the run alone');

  const [run] = await waitForRuns(server, alice.basic, 'alice/outage', sha, { timeoutMs: 30_000 });
  t.comment(`run final ${Date.now() - started} ms after the outage began`);
  t.equal(run.status, 'success', run.message);
  t.equal(run.attempt, 1, 'the first attempt, not a retry after a stall');
  const detail = (await server.api('GET', `/api/v1/repos/alice/outage/runs/${run.id}`, { auth: alice.basic })).body;
  t.same(detail.metrics, { accuracy: 0.93 });
  t.same(
    detail.outputs.map((o: { name: string; size: number }) => [o.name, o.size]),
    [['model.txt', 2]],
  );
  const text = await logs();
  t.equal(text.split('job-start').length - 1, 1, 'each log line once');
  t.equal(text.split('job-end').length - 1, 1, 'the end of the job is in the log, once');
  t.notMatch(text, 'resent-batch', 'the repeated batch was not appended');

  const dir = await client.workRepo('note-reader', []);
  // The note lands right after the run turns final (helpers/runs.ts, eventually).
  const note = await eventually(
    async () => {
      await client.run(['fetch', '-f', server.gitUrl('alice', 'outage', alice.basic), 'refs/notes/mlproject:refs/notes/mlproject'], { cwd: dir });
      return client.ok(['notes', '--ref=mlproject', 'show', sha], { cwd: dir }).catch(() => '');
    },
    (text) => /train\s+success/.test(text),
    'the git note',
    15_000,
  );
  t.match(note, '"accuracy":0.93');
});
