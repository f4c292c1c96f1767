// Push to train, end to end: the real git client pushes a project, post-receive dispatches,
// the embedded runner claims over HTTP, fetches with a job token, runs the job in the runtime,
// and results come back as rows, outputs, logs and a git note. Runs once per runtime:
// the local-process runtime always, the Docker Engine API runtime against the real Podman
// service that scripts/podman-setup.sh provides.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { GitClient } from './helpers/git-client.ts';
import { dockerSocketForTests } from './helpers/podman.ts';
import { eventually, manifest, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';

const TRAIN_PY = `import json, os, sys
lr = float(sys.argv[1]) if len(sys.argv) > 1 else 0.1
out = os.environ['MLP_OUTPUT_DIR']
with open(os.path.join(out, 'model.txt'), 'w') as f:
    f.write('model lr=%s\\n' % lr)
with open('metrics.json', 'w') as f:
    json.dump({'accuracy': 0.9 + lr / 10, 'loss': {'train': 0.25}}, f)
print('trained with lr', lr, 'run', os.environ['MLP_RUN_ID'])
`;
const EVALUATE_PY = `import json
model = open('model.txt').read()
with open('eval.json', 'w') as f:
    json.dump({'f1': 0.8 if 'lr=0.1' in model else 0.7}, f)
print('evaluated', model.strip())
`;
const PIPELINE = manifest(`params:
  schema:
    lr: {type: float, default: 0.1, min: 0}
jobs:
  train:
    kind: train
    command: python3 train.py \${{ params.lr }}
    inputs: [train.py]
    outputs: [{path: model.txt, type: model}]
    metrics: {path: metrics.json, format: json, primary: accuracy, goals: {accuracy: maximize}}
    timeout: 2m
  evaluate:
    kind: evaluate
    depends_on: [train]
    command: python3 evaluate.py
    inputs: [evaluate.py]
    metrics: {path: eval.json, format: json}
compare:
  baseline: main
  thresholds: {accuracy: {max_drop: 0.001}}
`);

// Allocates ~400 MB under a 64 MiB limit: the kernel kills it (exit 137 with a memory limit).
const OOM_JOB = `  hog:
    kind: custom
    command: python3 -c "x = bytearray(400 * 1024 * 1024); print(len(x))"
    resources: {memory: 64Mi}
`;

const runtimes: { name: 'process' | 'docker'; socket?: string }[] = [{ name: 'process' }, { name: 'docker', socket: dockerSocketForTests() }];

for (const runtime of runtimes) {
  t.test(`push to train with the ${runtime.name} runtime`, async (t) => {
    const server = await startRunsServer(t, { runtime: runtime.name, dockerSocket: runtime.socket ?? '/nonexistent' });
    const client = await GitClient.create(t);
    const alice = await server.user('alice');

    t.test('push -> queued -> running -> success -> rows, outputs, logs, note', async (t) => {
      const { sha, push, dir } = await pushProject(server, client, alice, 'digits', { 'mlproject.yaml': PIPELINE, 'train.py': TRAIN_PY, 'evaluate.py': EVALUATE_PY });
      t.equal(push.code, 0, push.stderr);
      const runs = await waitForRuns(server, alice.basic, 'alice/digits', sha, { count: 2 });
      t.same(runs.map((r) => [r.job, r.status]), [['train', 'success'], ['evaluate', 'success']], JSON.stringify(runs.map((r) => r.message)));
      const [train, evaluate] = runs;
      // The push ended with a link to each run it queued (no MLGIT_PUBLIC_URL: the push request's host).
      for (const run of runs) t.match(push.stderr, `remote: mlgit: queued run ${run.id} (${run.job}) ${server.url}/api/v1/repos/alice/digits/runs/${run.id}`);
      t.ok(new Date(evaluate.started_at) >= new Date(train.finished_at), 'evaluate started after train finished (depends_on)');
      t.same(evaluate.depends_on, [train.id]);

      const detail = (await server.api('GET', `/api/v1/repos/alice/digits/runs/${train.id}`, { auth: alice.basic })).body;
      t.same(detail.metrics, { accuracy: 0.91, 'loss.train': 0.25 });
      t.equal(detail.outputs.length, 1);
      const expected = Buffer.from('model lr=0.1\n');
      t.same(detail.outputs[0], { name: 'model.txt', type: 'model', oid: createHash('sha256').update(expected).digest('hex'), size: expected.length });
      const download = await fetch(`${server.url}/api/v1/repos/alice/digits/runs/${train.id}/outputs/model.txt`, {
        headers: { authorization: `Basic ${Buffer.from(alice.basic).toString('base64')}` },
      });
      t.equal(download.status, 200);
      t.same(Buffer.from(await download.arrayBuffer()), expected, 'output downloads byte-identical');
      const evalDetail = (await server.api('GET', `/api/v1/repos/alice/digits/runs/${evaluate.id}`, { auth: alice.basic })).body;
      t.same(evalDetail.metrics, { f1: 0.8 }, 'the dependent job read its dependency output');

      const logs = await server.api('GET', `/api/v1/repos/alice/digits/runs/${train.id}/logs`, { auth: alice.basic });
      t.match(logs.body, `trained with lr 0.1 run ${train.id}`);
      t.match(logs.headers.get('content-type'), /text\/plain/);

      const metrics = (await server.api('GET', `/api/v1/repos/alice/digits/commits/${sha}/metrics`, { auth: alice.basic })).body;
      t.same(metrics.jobs.map((j: any) => [j.job, j.metrics]), [['evaluate', { f1: 0.8 }], ['train', { accuracy: 0.91, 'loss.train': 0.25 }]]);

      // The note, as a user reads it.
      await client.ok(['fetch', 'origin', 'refs/notes/mlproject:refs/notes/mlproject'], { cwd: dir });
      const note = await client.ok(['log', '--notes=mlproject', '-1', '--format=%N'], { cwd: dir });
      t.match(note, `mlproject: test-project @ ${sha.slice(0, 7)}`);
      t.match(note, /train\s+success/);
      const lines = note.split('\n').filter((l) => l.startsWith('{'));
      t.same(lines.map((l) => JSON.parse(l).job), ['evaluate', 'train']);
      t.same(JSON.parse(lines[1]!), { job: 'train', metrics: { accuracy: 0.91, 'loss.train': 0.25 }, run: train.id, status: 'success', v: 1 });

      // mlgit's own commit statuses, and metrics posted by external CI stored like a run's.
      const statuses = (await server.api('GET', `/api/v1/repos/alice/digits/commits/${sha}/statuses`, { auth: alice.basic })).body as any[];
      t.same(statuses.filter((s) => s.state === 'success').map((s) => s.context).sort(), ['mlgit/evaluate', 'mlgit/train']);
      const ci = await server.api('POST', `/api/v1/repos/alice/digits/statuses/${sha}`, {
        auth: alice.basic,
        body: { state: 'success', context: 'bench', description: 'latency check', metrics: { latency_ms: 12.5 } },
      });
      t.equal(ci.status, 201);
      const withCi = (await server.api('GET', `/api/v1/repos/alice/digits/commits/${sha}/metrics`, { auth: alice.basic })).body;
      t.same(withCi.jobs.find((j: any) => j.job === 'ci:bench')?.metrics, { latency_ms: 12.5 });
      await client.ok(['fetch', 'origin', '+refs/notes/mlproject:refs/notes/mlproject'], { cwd: dir });
      t.match(await client.ok(['log', '--notes=mlproject', '-1', '--format=%N'], { cwd: dir }), '"job":"ci:bench"');

      t.test('an unchanged-input push is a cache hit, and a regression is flagged', async (t) => {
        const readme = await client.commit(dir, { 'README.md': 'docs only\n' }, 'docs');
        await client.ok(['push', 'origin', 'main'], { cwd: dir });
        const cached = await waitForRuns(server, alice.basic, 'alice/digits', readme, { count: 2 });
        t.same(cached.map((r) => [r.job, r.status, r.cached_from]), [['train', 'cached', train.id], ['evaluate', 'cached', evaluate.id]]);
        const cachedDetail = (await server.api('GET', `/api/v1/repos/alice/digits/runs/${cached[0].id}`, { auth: alice.basic })).body;
        t.same(cachedDetail.metrics, { accuracy: 0.91, 'loss.train': 0.25 }, 'metrics reused');
        t.equal(cachedDetail.outputs[0].oid, detail.outputs[0].oid, 'outputs reused');

        // A change to train.py that lowers accuracy: compared with the last main run, regressed.
        const worse = await client.commit(dir, { 'train.py': TRAIN_PY.replace('0.9 + lr / 10', '0.5 + lr / 10') }, 'worse model');
        await client.ok(['push', 'origin', 'main'], { cwd: dir });
        const [worseRun] = await waitForRuns(server, alice.basic, 'alice/digits', worse, { count: 2 });
        t.equal(worseRun.status, 'success');
        const runUrl = `/api/v1/repos/alice/digits/runs/${worseRun.id}`;
        const worseTrain = await eventually(async () => (await server.api('GET', runUrl, { auth: alice.basic })).body, (run) => run.comparison != null, 'the comparison of the worse run');
        t.equal(worseTrain.comparison.baseline.sha, readme, 'baseline: the last successful main run before this commit');
        t.same(worseTrain.comparison.regressed, ['accuracy']);
        const compare = (await server.api('GET', `/api/v1/repos/alice/digits/metrics/compare?base=${sha}&head=${worse}`, { auth: alice.basic })).body;
        const accuracy = compare.jobs.find((j: any) => j.job === 'train').metrics.find((m: any) => m.metric === 'accuracy');
        t.match(accuracy, { base: 0.91, head: 0.51, goal: 'maximize', regressed: true });
        const history = (await server.api('GET', '/api/v1/repos/alice/digits/metrics/history?key=accuracy&job=train', { auth: alice.basic })).body;
        t.same(history.points.map((p: any) => [p.commit, p.value]), [[sha, 0.91], [readme, 0.91], [worse, 0.51]]);
        const note = async () => {
          await client.ok(['fetch', 'origin', '+refs/notes/mlproject:refs/notes/mlproject'], { cwd: dir });
          return client.ok(['log', '--notes=mlproject', '-1', '--format=%N'], { cwd: dir });
        };
        t.match(await eventually(note, (text) => /evaluate\s+success/.test(text) && /train\s+success/.test(text), 'the note of the worse commit'), /REGRESSED/);
      });

      t.test('manual runs: params checked against the schema (422), then run', async (t) => {
        for (const [params, message] of [
          [{ lr: 'fast' }, /lr.*must be a finite number/],
          [{ lr: -1 }, /lr.*must be >= 0/],
          [{ depth: 3 }, /depth.*not declared/],
        ] as const) {
          const bad = await server.api('POST', '/api/v1/repos/alice/digits/runs', { auth: alice.basic, body: { ref: 'main', jobs: ['train'], params } });
          t.equal(bad.status, 422, JSON.stringify(params));
          t.match(bad.body.error.message, message);
        }
        const unknownJob = await server.api('POST', '/api/v1/repos/alice/digits/runs', { auth: alice.basic, body: { jobs: ['deploy'] } });
        t.equal(unknownJob.status, 422);
        const outsider = await server.user('mallory');
        const denied = await server.api('POST', '/api/v1/repos/alice/digits/runs', { auth: outsider.basic, body: {} });
        t.equal(denied.status, 403);
        const ok = await server.api('POST', '/api/v1/repos/alice/digits/runs', { auth: alice.basic, body: { ref: 'main', jobs: ['train'], params: { lr: 0.5 } } });
        t.equal(ok.status, 201);
        t.equal(ok.body.runs.length, 1);
        t.equal(ok.body.runs[0].trigger, 'manual');
        const id = ok.body.runs[0].id;
        let run: any;
        for (let i = 0; i < 300; i++) {
          run = (await server.api('GET', `/api/v1/repos/alice/digits/runs/${id}`, { auth: alice.basic })).body;
          if (['success', 'failed', 'error'].includes(run.status)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        t.equal(run.status, 'success');
        t.same(run.metrics.accuracy, 0.55, 'main is now the "worse model" commit: 0.5 + lr / 10');
      });
    });

    t.test('matrix, failures, retries, cancel, timeout', async (t) => {
      const { sha, push } = await pushProject(server, client, alice, 'edge', {
        'mlproject.yaml': manifest(`jobs:
  sweep:
    kind: train
    command: echo "lr=\${{ matrix.lr }} depth=\${{ matrix.depth }}"
    matrix: {lr: [0.1, 0.2], depth: [1, 2]}
  broken:
    kind: train
    command: ["echo first", "exit 3", "echo never"]
  after_broken:
    kind: evaluate
    depends_on: [broken]
    command: echo should not run
  flaky:
    kind: custom
    command: exit 1
    retries: {max: 1, when: [any]}
  sleeper:
    kind: custom
    command: sleep 60
  slow:
    kind: custom
    command: sleep 30
    timeout: 2s
${runtime.name === 'docker' ? OOM_JOB : ''}`),
      });
      t.equal(push.code, 0, push.stderr);
      const expected = runtime.name === 'docker' ? 10 : 9;
      const settle = waitForRuns(server, alice.basic, 'alice/edge', sha, {
        timeoutMs: 90_000,
        done: (runs) => runs.length === expected && runs.filter((r) => r.job !== 'sleeper').every((r) => ['success', 'failed', 'cancelled', 'timed_out', 'error'].includes(r.status)),
      });
      // Cancel the sleeper once it runs.
      let sleeper: any;
      for (let i = 0; i < 400 && sleeper?.status !== 'running'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        sleeper = ((await server.api('GET', `/api/v1/repos/alice/edge/runs?commit=${sha}&job=sleeper`, { auth: alice.basic })).body as any[])[0];
      }
      t.equal(sleeper?.status, 'running');
      const cancelAt = Date.now();
      const cancelled = await server.api('POST', `/api/v1/repos/alice/edge/runs/${sleeper.id}/cancel`, { auth: alice.basic });
      t.equal(cancelled.status, 202);
      const runs = await settle;
      const all = await waitForRuns(server, alice.basic, 'alice/edge', sha, { count: expected });
      const byJob: Record<string, any> = Object.fromEntries(all.map((r) => [r.job, r]));
      t.same(
        Object.keys(byJob).filter((j) => j.startsWith('sweep')).sort(),
        ['sweep[lr=0.1,depth=1]', 'sweep[lr=0.1,depth=2]', 'sweep[lr=0.2,depth=1]', 'sweep[lr=0.2,depth=2]'],
      );
      for (const [job, run] of Object.entries(byJob)) if (job.startsWith('sweep')) t.equal(run.status, 'success', job);
      const sweepLog = await server.api('GET', `/api/v1/repos/alice/edge/runs/${byJob['sweep[lr=0.2,depth=1]'].id}/logs`, { auth: alice.basic });
      t.match(sweepLog.body, 'lr=0.2 depth=1');
      t.equal(byJob.broken.status, 'failed');
      t.equal(byJob.broken.exit_code, 3);
      const brokenLog = (await server.api('GET', `/api/v1/repos/alice/edge/runs/${byJob.broken.id}/logs`, { auth: alice.basic })).body;
      t.match(brokenLog, 'first');
      t.notMatch(brokenLog, 'never', 'a command list stops at the first failure');
      t.equal(byJob.after_broken.status, 'cancelled');
      t.match(byJob.after_broken.message, 'dependency broken ended failed');
      t.equal(byJob.flaky.status, 'failed');
      t.equal(byJob.flaky.attempt, 2, 'retried once');
      t.match((await server.api('GET', `/api/v1/repos/alice/edge/runs/${byJob.flaky.id}/logs`, { auth: alice.basic })).body, 'retrying');
      t.equal(byJob.sleeper.status, 'cancelled');
      const cancelMs = Date.parse(byJob.sleeper.finished_at) - cancelAt;
      // `sleep 60` would run a minute; the bound is loose because a loaded CI machine delays the
      // heartbeat that carries the cancel and Podman's exit report (1-8 s seen).
      t.ok(cancelMs < 30_000, `a running job stopped ${cancelMs} ms after the cancel request`);
      t.equal(byJob.slow.status, 'timed_out');
      if (runtime.name === 'docker') {
        t.equal(byJob.hog.status, 'failed', 'out of memory is a failure');
        t.match(byJob.hog.message, /ran out of memory \(limit 64 MiB\)/);
      }
      t.ok(runs.length >= 9);
    });

    t.test('a dataset from another repo, pinned by commit, fetched with the job token', async (t) => {
      await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: `data-${runtime.name}`, private: true } });
      const data = await client.workRepo(`data-${runtime.name}`, [{ 'rows.csv': 'a,b\n1,2\n' }]);
      const dataSha = (await client.ok(['rev-parse', 'HEAD'], { cwd: data })).trim();
      await client.ok(['push', '-q', server.gitUrl('alice', `data-${runtime.name}`, alice.basic), 'main'], { cwd: data });
      const { sha, push } = await pushProject(server, client, alice, `uses-data-${runtime.name}`, {
        'mlproject.yaml': manifest(`datasets:
  rows: {repo: alice/data-${runtime.name}, ref: ${dataSha}, path: rows.csv}
jobs:
  read:
    kind: custom
    command: cat \${{ datasets.rows.path }}
`),
      });
      t.equal(push.code, 0, push.stderr);
      const [run] = await waitForRuns(server, alice.basic, `alice/uses-data-${runtime.name}`, sha);
      t.equal(run.status, 'success', run.message);
      const log = (await server.api('GET', `/api/v1/repos/alice/uses-data-${runtime.name}/runs/${run.id}/logs`, { auth: alice.basic })).body;
      t.match(log, 'a,b\n1,2', 'the private dataset repo was fetched at the pinned commit');
    });

    t.test('hostile jobs: symlinked outputs and metrics, garbage metrics, quoted params, no server secrets', async (t) => {
      const marker = path.join(os.tmpdir(), `mlgit-pwned-${process.pid}-${runtime.name}`);
      const { sha, push } = await pushProject(server, client, alice, 'hostile', {
        'mlproject.yaml': manifest(`params:
  schema:
    tag: {type: string, default: "x"}
jobs:
  links:
    kind: train
    command: ln -s /etc/passwd "$MLP_OUTPUT_DIR/model.txt" && ln -s /etc/hostname metrics.json
    outputs: [{path: model.txt}]
    metrics: {path: metrics.json}
  garbage:
    kind: evaluate
    command: cp garbage.json m.json
    metrics: {path: m.json}
  quoting:
    kind: custom
    command: echo tag=\${{ params.tag }}
  secrets:
    kind: custom
    command: env; cat ${JSON.stringify(path.join(server.dataDir, 'jwt-secret'))} || echo cannot-read-server-secret
  reach:
    kind: custom
    command: python3 -c "import urllib.request; urllib.request.urlopen('${server.url}/alice/digits.git/info/refs?service=git-upload-pack', timeout=3)" || echo cannot-reach-the-server
`),
        'garbage.json': '{"acc": "high", "ok": 0.5, "inf": 1e999, "none": null, "nested": {"deep": [1, 2]}}',
      });
      t.equal(push.code, 0, push.stderr);
      const runs = await waitForRuns(server, alice.basic, 'alice/hostile', sha, { count: 5 });
      const byJob: Record<string, any> = Object.fromEntries(runs.map((r) => [r.job, r]));
      const links = (await server.api('GET', `/api/v1/repos/alice/hostile/runs/${byJob.links.id}`, { auth: alice.basic })).body;
      t.same(links.outputs, [], 'a symlinked output is not uploaded');
      t.match(links.metric_problems.join('\n'), /symbolic link/);
      const garbage = (await server.api('GET', `/api/v1/repos/alice/hostile/runs/${byJob.garbage.id}`, { auth: alice.basic })).body;
      t.equal(garbage.status, 'success');
      t.same(garbage.metrics, { ok: 0.5 }, 'only numbers are stored');
      t.ok(garbage.metric_problems.length >= 1, JSON.stringify(garbage.metric_problems));

      const evil = `$(touch ${marker}); \`touch ${marker}\` 'quote" ; exit 9`;
      const manual = await server.api('POST', '/api/v1/repos/alice/hostile/runs', { auth: alice.basic, body: { jobs: ['quoting'], params: { tag: evil } } });
      t.equal(manual.status, 201);
      const [quoting] = await waitForRuns(server, alice.basic, 'alice/hostile', sha, { done: (all) => all.filter((r) => r.job === 'quoting').length === 2 && all.every((r) => !['queued', 'running'].includes(r.status)) }).then((all) => all.filter((r) => r.id === manual.body.runs[0].id));
      t.equal(quoting.status, 'success');
      t.match((await server.api('GET', `/api/v1/repos/alice/hostile/runs/${quoting.id}/logs`, { auth: alice.basic })).body, `tag=${evil}`);
      await t.rejects(fs.stat(marker), 'the param was never executed');

      const secretsLog: string = (await server.api('GET', `/api/v1/repos/alice/hostile/runs/${byJob.secrets.id}/logs`, { auth: alice.basic })).body;
      const jwt = (await fs.readFile(path.join(server.dataDir, 'jwt-secret'), 'utf8')).trim();
      t.notMatch(secretsLog, jwt, 'the job cannot read the server secret');
      t.notMatch(secretsLog, server.services.runs.runnerToken, 'nor see the runner token');
      t.notMatch(secretsLog, /MLGIT_|mlj_/, 'nor the server environment or its job token');
      t.match(secretsLog, 'MLP_COMMIT=');
      const reachLog = (await server.api('GET', `/api/v1/repos/alice/hostile/runs/${byJob.reach.id}/logs`, { auth: alice.basic })).body;
      t.match(reachLog, 'cannot-reach-the-server', 'no network: a job cannot reach mlgit (or other repos) at all');
    });
  });
}
