// GET /metrics (issue 13, Observability): off by default (404), admin-only on the main port, or
// unauthenticated on a port of its own. Series are checked to move after a real push (git and
// git-lfs over a real socket), an LFS upload, a clone, a fetch, a run that trains, a webhook
// delivery; labels are route patterns, so a private repository's name never appears.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import t from 'tap';
import { BullMqQueue } from '../server/adapters/queue/bullmq-queue.ts';
import { InProcessQueue } from '../server/adapters/queue/in-process-queue.ts';
import { ConfigError, loadConfig } from '../server/config.ts';
import { GitClient } from './helpers/git-client.ts';
import { parsePrometheusText, sampleValue, type Sample } from './helpers/prometheus-text.ts';
import { manifest, startRunsServer, waitForRuns } from './helpers/runs.ts';
import { freePort } from './helpers/server-process.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { WebhookReceiver } from './helpers/webhook-receiver.ts';

const REDIS_URL = process.env.MLGIT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TRAIN = manifest(`jobs:
  train:
    kind: train
    command: python3 -c "print('trained')"
    timeout: 2m
`);

t.test('MLGIT_METRICS: values and bad inputs', async (t) => {
  const table: [string, unknown][] = [
    ['', { mode: 'off' }],
    ['off', { mode: 'off' }],
    ['admin', { mode: 'admin' }],
    ['9464', { mode: 'listen', host: '127.0.0.1', port: 9464 }],
    ['0.0.0.0:9464', { mode: 'listen', host: '0.0.0.0', port: 9464 }],
    ['[::1]:9464', { mode: 'listen', host: '::1', port: 9464 }],
    ['metrics.internal:9100', { mode: 'listen', host: 'metrics.internal', port: 9100 }],
  ];
  for (const [value, expected] of table) t.same(loadConfig({ MLGIT_METRICS: value }).metrics, expected, JSON.stringify(value));
  t.same(loadConfig({ MLGIT_METRICS: '9464', HOST: '0.0.0.0' }).metrics, { mode: 'listen', host: '0.0.0.0', port: 9464 }, 'a bare port listens where the server does');
  for (const bad of ['on', 'true', '65536', ':9464', 'host:', 'a b:1', '9464/metrics', '-1', 'http://x:1']) {
    const err = (() => {
      try {
        loadConfig({ MLGIT_METRICS: bad });
      } catch (caught) {
        return caught;
      }
    })();
    t.ok(err instanceof ConfigError, `refused: ${JSON.stringify(bad)}`);
    t.match((err as Error).message, `MLGIT_METRICS must be off, admin, or [host:]port for a listener of its own, got "${bad}"`);
  }
});

t.test('metrics off (the default): /metrics is 404; /livez and /readyz answer', async (t) => {
  const server = await startServer(t, { database: 'pglite' });
  t.equal((await server.api('GET', '/metrics')).status, 404);
  t.equal((await server.api('GET', '/metrics', { auth: `admin:${server.admin.password}` })).status, 404, 'not even for the admin');
  t.same((await server.api('GET', '/livez')).body, { status: 'ok' });
  const ready = await server.api('GET', '/readyz');
  t.equal(ready.status, 200);
  t.match(ready.body, { status: 'ready', queue: 'ok', object_store: 'ok' });
});

async function scrape(server: TestServer): Promise<Sample[]> {
  const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Basic ${Buffer.from(`admin:${server.admin.password}`).toString('base64')}` } });
  if (response.status !== 200) throw new Error(`scrape: ${response.status}`);
  return parsePrometheusText(await response.text());
}

t.test('metrics on the main port (admin): the series move after a push, an LFS upload, a clone, a fetch, a run and a webhook', async (t) => {
  const server = await startRunsServer(t, { runtime: 'process' }, { config: { metrics: { mode: 'admin' }, webhooks: { ...loadConfig({}).webhooks, allow: ['127.0.0.1'] } } });
  const client = await GitClient.create(t);
  await client.enableLfs();
  const alice = await server.user('alice');
  const receiver = await WebhookReceiver.start(t);
  t.equal((await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'secret-weights', private: true } })).status, 201);
  t.equal((await server.api('POST', '/api/v1/repos/alice/secret-weights/hooks', { auth: alice.basic, body: { url: receiver.url, events: ['push'] } })).status, 201);

  await t.test('access: anonymous 401, a user 403, the admin 200 in the Prometheus text format', async (t) => {
    t.equal((await server.api('GET', '/metrics')).status, 401);
    t.equal((await server.api('GET', '/metrics', { auth: alice.basic })).status, 403);
    const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Basic ${Buffer.from(`admin:${server.admin.password}`).toString('base64')}` } });
    t.equal(response.status, 200);
    t.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  });

  const before = await scrape(server);
  const weights = randomBytes(1024 * 1024);
  const work = await client.workRepo('work', []);
  await client.ok(['lfs', 'track', '*.bin'], { cwd: work });
  const sha = await client.commit(work, { 'model.bin': weights, 'mlproject.yaml': TRAIN }, 'weights and a training job');
  await client.ok(['remote', 'add', 'origin', server.gitUrl('alice', 'secret-weights', alice.tokenBasic)], { cwd: work });
  await client.ok(['push', 'origin', 'main'], { cwd: work });
  const runs = await waitForRuns(server, alice.basic, 'alice/secret-weights', sha);
  t.same(runs.map((r) => [r.job, r.status]), [['train', 'success']], JSON.stringify(runs.map((r) => r.message)));
  const clone = path.join(client.home, 'clone');
  await client.ok(['clone', '-q', server.gitUrl('alice', 'secret-weights', alice.tokenBasic), clone]);
  // Without the manifest: no second run, so the runner's fetches are known (one, for the run above).
  await client.ok(['rm', '-q', 'mlproject.yaml'], { cwd: work });
  await client.commit(work, { 'README.md': '# more\n' }, 'second commit');
  await client.ok(['push', 'origin', 'main'], { cwd: work });
  await client.ok(['fetch', 'origin'], { cwd: clone });
  await receiverHeardPushes(receiver, 2);

  const after = await scrape(server);
  const moved = (name: string, labels: Record<string, string> = {}) => sampleValue(after, name, labels) - sampleValue(before, name, labels);
  t.equal(moved('mlgit_git_operations_total', { operation: 'push', outcome: '2xx' }), 2, 'two pushes');
  t.equal(moved('mlgit_git_operations_total', { operation: 'clone', outcome: '2xx' }), 2, 'two clones: the runner fetching into its empty workspace, and ours');
  t.equal(moved('mlgit_git_operations_total', { operation: 'fetch', outcome: '2xx' }), 1, 'one fetch');
  t.ok(moved('mlgit_git_bytes_total', { operation: 'push', direction: 'in' }) > 100, 'pushed pack bytes counted');
  t.ok(moved('mlgit_git_bytes_total', { operation: 'clone', direction: 'out' }) > 100, 'cloned pack bytes counted');
  t.equal(moved('mlgit_git_operation_duration_seconds_count', { operation: 'push' }), 2);
  t.ok(moved('mlgit_lfs_bytes_total', { direction: 'in' }) >= weights.length, `LFS upload bytes >= ${weights.length}`);
  t.ok(moved('mlgit_lfs_bytes_total', { direction: 'out' }) >= weights.length, 'the clone downloaded the object through the server');
  t.equal(moved('mlgit_lfs_batch_objects_count', { operation: 'upload' }), 1, 'one upload batch');
  t.equal(moved('mlgit_lfs_batch_objects_sum', { operation: 'upload' }), 1, 'of one object');
  t.equal(moved('mlgit_lfs_batch_declared_bytes_total', { operation: 'upload' }), weights.length);
  t.equal(moved('mlgit_runs_finished_total', { job: 'train', status: 'success' }), 1, 'the run, by job and status');
  t.equal(moved('mlgit_run_duration_seconds_count', { job: 'train', status: 'success' }), 1);
  t.ok(moved('mlgit_webhook_deliveries_total', { result: 'delivered' }) >= 2, 'webhook deliveries by result');
  t.ok(moved('mlgit_http_requests_total', { route: '/:owner/:repo/git-receive-pack', method: 'POST', status: '200' }) >= 2, 'HTTP requests by route pattern and status');
  t.ok(moved('mlgit_http_request_duration_seconds_count', { route: '/:owner/:repo/info/lfs/objects/batch', method: 'POST' }) >= 2);
  t.ok(sampleValue(after, 'mlgit_db_pool_connections', { state: 'total' }) >= 1, 'Postgres pool usage');
  t.ok(after.some((s) => s.name === 'mlgit_git_processes'), 'concurrent git processes');
  t.ok(after.some((s) => s.name === 'mlgit_queue_jobs' && s.labels.queue === 'run.execute'), 'queue depth of the run queue');
  t.ok(after.some((s) => s.name === 'mlgit_queue_oldest_waiting_seconds'), 'queue age');
  t.equal(sampleValue(after, 'mlgit_runs', { status: 'queued' }), 0, 'no run waits');
  t.ok(after.some((s) => s.name === 'mlgit_notes_conflicts_total'), 'notes writer conflicts');
  t.ok(after.some((s) => s.name === 'process_resident_memory_bytes'), 'process metrics');

  const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Basic ${Buffer.from(`admin:${server.admin.password}`).toString('base64')}` } })).text();
  t.notMatch(text, 'secret-weights', 'no repository name in any label');
  t.notMatch(text, 'alice', 'no owner name in any label');
  const routes = new Set(after.filter((s) => s.name === 'mlgit_http_requests_total').map((s) => s.labels.route));
  t.ok([...routes].every((route) => route === 'unmatched' || route!.startsWith('/')), `route labels are patterns: ${[...routes].join(' ')}`);
});

async function receiverHeardPushes(receiver: WebhookReceiver, count: number): Promise<void> {
  while (receiver.ofEvent('push').length < count) await new Promise((resolve) => setTimeout(resolve, 100));
}

t.test('metrics on a port of their own: no credentials there, nothing on the main port', async (t) => {
  const port = await freePort();
  const server = await startServer(t, { database: 'pglite', config: { metrics: { mode: 'listen', host: '127.0.0.1', port } } });
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  t.equal(response.status, 200);
  t.ok(parsePrometheusText(await response.text()).some((s) => s.name === 'mlgit_git_processes'));
  t.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404, 'only /metrics there');
  t.equal((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status, 404);
  t.equal((await server.api('GET', '/metrics', { auth: `admin:${server.admin.password}` })).status, 404, 'the main port does not serve it');
  await server.close();
  await t.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'the listener closes with the app');
});

t.test('queue depths and ages, as the gauges read them (BullMQ on the real Redis, and the in-process queue)', async (t) => {
  const bullmq = new BullMqQueue({ redisUrl: REDIS_URL, prefix: `mlgit-metrics-${process.pid}-${Date.now()}`, onError: (_name, err) => t.fail(String(err)) });
  const inProcess = new InProcessQueue();
  t.teardown(() => Promise.all([bullmq.close(), inProcess.close()]).then(() => undefined));
  for (const [name, queue] of [['bullmq', bullmq], ['in-process', inProcess]] as const) {
    // No handler here: the jobs wait, as run jobs wait for remote runners.
    await queue.enqueue('obs.wait', { n: 1 });
    await queue.enqueue('obs.wait', { n: 2 });
    await queue.enqueue('obs.wait', { n: 3 }, { delayMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const depth = (await queue.depths()).find((d) => d.name === 'obs.wait');
    t.match(depth, { name: 'obs.wait', waiting: 2, active: 0, delayed: 1 }, `${name}: two waiting, one delayed`);
    t.ok(depth!.oldestWaitingMs !== null && depth!.oldestWaitingMs >= 0 && depth!.oldestWaitingMs < 60_000, `${name}: age of the oldest waiting job (${depth!.oldestWaitingMs} ms)`);
  }
});

t.test('/readyz: an object store that does not answer makes the server unready', async (t) => {
  const deadPort = await freePort();
  const server = await startServer(t, {
    database: 'pglite',
    config: { s3: { endpoint: `http://127.0.0.1:${deadPort}`, bucket: 'nowhere', region: 'us-east-1', accessKeyId: 'x', secretAccessKey: 'y', forcePathStyle: true } },
  });
  const ready = await server.api('GET', '/readyz');
  t.equal(ready.status, 503);
  t.match(ready.body, { status: 'unavailable', queue: 'ok', object_store: 'unreachable', error: { code: 'object_store_unreachable' } });
  t.equal((await server.api('GET', '/livez')).status, 200, 'still alive: an outage must not get the process restarted');
});
