// Issue 13, several server nodes: two `mlgit serve` processes on one Postgres, one Redis and one
// S3 bucket, sharing the repositories directory, behind a round-robin proxy, behave as one server.
// A runner process talks to the proxy, so its claim, heartbeats, log batches and report reach
// both nodes. The push-to-train loop (git push with LFS, run, log, note, webhooks) goes through
// the proxy several times; then one node is SIGKILLed mid-run: the run finishes, its log is whole
// on the survivor, and the survivor writes the note.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { GitClient } from './helpers/git-client.ts';
import { eventually, manifest } from './helpers/runs.ts';
import { CLUSTER_ADMIN_PASSWORD, startCluster } from './helpers/two-nodes.ts';
import { WebhookReceiver } from './helpers/webhook-receiver.ts';

const AUTH = `Basic ${Buffer.from(`admin:${CLUSTER_ADMIN_PASSWORD}`).toString('base64')}`;
const ROUNDS = 3;
const LINES = 60;

const PROJECT = manifest(`jobs:
  train:
    kind: train
    command: sh train.sh
    inputs: [train.sh, data.bin]
    metrics: {path: metrics.json, format: json}
    timeout: 5m
`);
// Reads the LFS file (so the checkout must have the object, not its pointer), then prints LINES
// numbered lines slowly enough that a node can be killed while it runs.
const TRAIN_SH = `bytes=$(wc -c < data.bin)
echo "data.bin has $bytes bytes"
i=1
while [ $i -le \${MLGIT_TEST_LINES:-${LINES}} ]; do echo "line $i"; i=$((i + 1)); sleep \${MLGIT_TEST_PAUSE:-0}; done
echo "{\\"bytes\\": $bytes}" > metrics.json
`;

interface Run {
  id: number;
  status: string;
  message: string | null;
}

t.test('two nodes behind a round-robin proxy behave as one server', async (t) => {
  const receiver = await WebhookReceiver.start(t);
  const cluster = await startCluster({ nodes: 2, env: { MLGIT_WEBHOOK_ALLOW: '127.0.0.1/32', MLGIT_MAINTENANCE_DELAY_MS: '0', MLGIT_RUN_STALL_TIMEOUT_MS: '20000', MLGIT_AUTH_MAX_FAILURES: '4' } });
  t.teardown(cluster.stop);
  const [nodeA, nodeB] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  const api = async (base: string, method: string, url: string, body?: unknown) => {
    const response = await fetch(`${base}${url}`, { method, headers: { authorization: AUTH, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const text = await response.text();
    return { status: response.status, text, json: () => JSON.parse(text) as unknown };
  };
  const proxy = cluster.proxy.url;

  t.equal((await api(proxy, 'POST', '/api/v1/repos', { name: 'shared' })).status, 201, 'repo created through the proxy');
  const hook = await api(proxy, 'POST', '/api/v1/repos/admin/shared/hooks', { url: `http://127.0.0.1:${receiver.port}/hook`, events: ['push', 'run.completed'] });
  t.equal(hook.status, 201, hook.text);
  cluster.startRunner({ MLGIT_RUNNER_CONCURRENCY: '2' });

  const git = await GitClient.create(t);
  await git.enableLfs();
  const work = await git.workRepo('shared', [{ '.gitattributes': '*.bin filter=lfs diff=lfs merge=lfs -text\n', 'mlproject.yaml': PROJECT, 'train.sh': TRAIN_SH }]);
  const remote = `${proxy.replace('http://', `http://admin:${CLUSTER_ADMIN_PASSWORD}@`)}/admin/shared.git`;
  await git.ok(['remote', 'add', 'origin', remote], { cwd: work });

  const runsOf = async (sha: string) => (await api(proxy, 'GET', `/api/v1/repos/admin/shared/runs?commit=${sha}`)).json() as Run[];
  const finished = (sha: string, timeoutMs = 180_000) =>
    eventually(() => runsOf(sha), (runs) => runs.length === 1 && !['queued', 'running'].includes(runs[0]!.status), `run of ${sha.slice(0, 7)}`, timeoutMs);
  const logOn = async (base: string, id: number) => (await api(base, 'GET', `/api/v1/repos/admin/shared/runs/${id}/logs`)).text;
  // The note is written right after the run turns final: wait for it.
  const noteOf = (sha: string) =>
    eventually(
      async () => {
        // Before the first note is written the ref does not exist yet: not there, keep waiting.
        const fetched = await git.run(['fetch', 'origin', '+refs/notes/mlproject:refs/notes/mlproject'], { cwd: work });
        if (fetched.code !== 0) return fetched.stderr;
        return (await git.run(['notes', '--ref=mlproject', 'show', sha], { cwd: work })).stdout;
      },
      (note) => note.includes('bytes='),
      `the note of ${sha.slice(0, 7)}`,
    );
  const wholeLog = (log: string, lines: number) => {
    const numbered = log.split('\n').filter((line) => /^line \d+$/.test(line));
    return numbered.length === lines && numbered.every((line, i) => line === `line ${i + 1}`);
  };

  const pushed: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const data = randomBytes(200_000 + round);
    const sha = await git.commit(work, { 'data.bin': data, 'round.txt': `${round}\n` }, `round ${round}`);
    const push = await git.run(['push', 'origin', 'main'], { cwd: work });
    t.equal(push.code, 0, `round ${round}: pushed with LFS through the proxy: ${push.stderr.slice(-500)}`);
    pushed.push(sha);
    const [run] = await finished(sha);
    t.equal(run!.status, 'success', `round ${round}: the run succeeded: ${run!.message}`);
    const [fromA, fromB] = [await logOn(nodeA.url, run!.id), await logOn(nodeB.url, run!.id)];
    t.equal(fromA, fromB, `round ${round}: both nodes serve the same log`);
    t.match(fromA, `data.bin has ${data.length} bytes`, `round ${round}: the job read the LFS object`);
    t.ok(wholeLog(fromA, LINES), `round ${round}: the log is whole and in order`);
    t.match(await noteOf(sha), `bytes=${data.length}`, `round ${round}: the note carries the metric`);
  }
  t.ok((cluster.proxy.served.get(nodeA.url) ?? 0) > 10 && (cluster.proxy.served.get(nodeB.url) ?? 0) > 10, `both nodes served: ${JSON.stringify(Object.fromEntries(cluster.proxy.served))}`);

  // Webhooks: each push and each run's completion delivered once, not once per node.
  await eventually(async () => receiver.received.length, (n) => n >= ROUNDS * 2, 'webhook deliveries');
  const events = receiver.received.map((r) => `${String(r.headers['x-mlgit-event'])} ${String(r.json?.after ?? r.json?.run?.commit ?? r.json?.run?.commit_sha ?? '')}`);
  t.equal(new Set(events).size, events.length, `no event delivered twice: ${events.join(', ')}`);
  t.equal(events.filter((e) => e.startsWith('push ')).length, ROUNDS, 'one push event per push');
  t.equal(events.filter((e) => e.startsWith('run.completed ')).length, ROUNDS, 'one run.completed per run');

  // Maintenance (repack after each push, queued once per repo) ran beside pushes and notes from both nodes: the repo is sound.
  const fsck = await git.run(['fsck', '--no-progress', '--no-dangling'], { cwd: `${cluster.dataDir}/repos/01/1.git` });
  t.equal(fsck.code, 0, `git fsck of the shared repository: ${fsck.stderr}`);

  // Failed sign-ins count in Redis: guesses alternating between the nodes meet one limit.
  const guesses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const login = await fetch(`${proxy}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ghost', password: `guess-${i}` }) });
    guesses.push(login.status);
  }
  t.same(guesses, [401, 401, 401, 401, 429, 429], 'the fifth guess is refused, whichever node it reaches');

  // Node A dies mid-run: the runner's next calls go to B through the proxy.
  const sha = await git.commit(work, { 'data.bin': randomBytes(300_000), 'mlproject.yaml': PROJECT.replace('command: sh train.sh', 'command: MLGIT_TEST_PAUSE=0.2 sh train.sh') }, 'slow round');
  const push = await git.run(['push', 'origin', 'main'], { cwd: work });
  t.equal(push.code, 0, push.stderr);
  const [running] = await eventually(() => runsOf(sha), (runs) => runs[0]?.status === 'running', 'the slow run starts');
  await eventually(() => logOn(nodeB.url, running!.id), (log) => log.includes('line 10\n'), 'the slow run prints');
  const follow = fetch(`${nodeB.url}/api/v1/repos/admin/shared/runs/${running!.id}/logs?follow=1`, { headers: { authorization: AUTH } }).then((r) => r.text());
  nodeA.child.kill('SIGKILL');
  await nodeA.exited;
  const [run] = await finished(sha);
  t.equal(run!.status, 'success', `the run finished with one node: ${run!.message}`);
  const followed = await follow;
  t.ok(wholeLog(followed, LINES), 'the follower on the survivor got the whole log, each line once, in order');
  t.equal(followed, await logOn(nodeB.url, run!.id), 'following gave exactly the stored log');
  t.match(await noteOf(sha), /bytes=\d+/, 'the survivor wrote the note');
});
