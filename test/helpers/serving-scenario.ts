// The serving end-to-end scenario (issue 11, "Quality bars"), run once per runtime
// (test/serving-process.test.ts, test/serving-docker.test.ts): the digits example trains twice,
// its `staging` alias is deployed through mlgit and answers inferences; the alias moves to the
// second version under a steady 50 requests/s from a loopback client for 30 s with zero failed
// requests while the answers switch to the new version; the model process is killed and the
// deployment restarts, its state changes visible in the API and as signed webhooks.
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { cp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type RunsConfig } from '../../server/config.ts';
import { GitClient } from './git-client.ts';
import { eventually, startRunsServer, waitForRuns } from './runs.ts';
import { waitFor, WebhookReceiver } from './webhook-receiver.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/digits', import.meta.url));
const REPO = '/api/v1/repos/alice/digits';
const LOAD = { perSecond: 50, seconds: 30, moveAfterSeconds: 10 };


export async function servingEndToEnd(t: Test, runs: Partial<RunsConfig>): Promise<void> {
  const server = await startRunsServer(t, runs, {
    config: { deploy: { ...loadConfig({}).deploy, startTimeoutMs: 180_000 }, webhooks: { ...loadConfig({}).webhooks, allow: ['127.0.0.1'] } },
  });
  const client = await GitClient.create(t);
  const receiver = await WebhookReceiver.start(t);
  const alice = await server.user('alice');
  const api = server.api;
  t.equal((await api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'digits' } })).status, 201);
  t.equal((await api('POST', `${REPO}/hooks`, { auth: alice.basic, body: { url: receiver.url, events: ['deployment.state'] } })).status, 201);

  const files = await digitsFiles();
  const dir = await client.workRepo('digits', [files]);
  await client.ok(['remote', 'add', 'origin', server.gitUrl('alice', 'digits', alice.basic)], { cwd: dir });
  const push = await client.run(['push', 'origin', 'main'], { cwd: dir });
  t.equal(push.code, 0, push.stderr);
  const sha = (await client.ok(['rev-parse', 'HEAD'], { cwd: dir })).trim();
  const first = (await waitForRuns(server, alice.basic, 'alice/digits', sha, { count: 2, timeoutMs: 600_000 })).find((r) => r.job === 'train');
  t.equal(first.status, 'success', first.message ?? '');
  const manual = await api('POST', `${REPO}/runs`, { auth: alice.basic, body: { ref: 'main', jobs: ['train'], params: { C: 0.5 } } });
  t.equal(manual.status, 201, JSON.stringify(manual.body));
  const versions = await eventually(async () => (await api('GET', `${REPO}/models/digits-clf/versions`, { auth: alice.basic })).body, (v) => Array.isArray(v) && v.length === 2, 'two versions', 600_000);
  t.same(versions.map((v: any) => v.version).sort(), [1, 2]);
  t.equal((await api('PUT', `${REPO}/models/digits-clf/aliases/staging`, { auth: alice.basic, body: { version: 1, expected_version: null } })).status, 200);

  const created = await api('POST', `${REPO}/deployments`, { auth: alice.basic, body: { model: 'digits-clf', alias: 'staging', command: 'python3 serve.py' } });
  t.equal(created.status, 202, JSON.stringify(created.body));
  const deployment = () => api('GET', `${REPO}/deployments/digits-clf`, { auth: alice.basic }).then((r) => r.body);
  t.match(await eventually(deployment, (d) => d.state !== 'starting', 'deployment started', 180_000), { state: 'ready', version: 1 });

  const rows = (await readFile(path.join(dir, 'data/digits.csv'), 'utf8')).trim().split('\n').slice(1, 11).map((line) => line.split(',').map(Number));
  const body = JSON.stringify({ inputs: [{ name: 'pixels', shape: [rows.length, 64], datatype: 'FP32', data: rows.map((r) => r.slice(0, 64)).flat() }] });
  const infer = async () => {
    const response = await fetch(`${server.url}/serve/alice/digits/v2/models/digits-clf/infer`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(alice.tokenBasic).toString('base64')}`, 'content-type': 'application/json' },
      body,
    });
    return { status: response.status, json: (await response.json()) as any };
  };

  await t.test('digits answers through mlgit', async (t: Test) => {
    const answer = await infer();
    t.equal(answer.status, 200, JSON.stringify(answer.json));
    t.match(answer.json, { model_name: 'digits-clf', model_version: '1' });
    const right = answer.json.outputs[0].data.filter((label: number, i: number) => label === rows[i]![64]).length;
    t.ok(right >= 8, `${right} of 10 digits recognised`);
  });

  await t.test(`alias move under ${LOAD.perSecond} requests/s for ${LOAD.seconds} s: no request fails, answers switch`, async (t: Test) => {
    const results: { sentAt: number; status: number; version: string | null }[] = [];
    const pending: Promise<void>[] = [];
    const start = Date.now();
    let movedAt = 0;
    const total = LOAD.perSecond * LOAD.seconds;
    for (let i = 0; i < total; i += 1) {
      // Paced by the clock, not by answers: a slow answer does not slow the load down.
      const due = start + (i * 1000) / LOAD.perSecond;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      if (movedAt === 0 && Date.now() - start >= LOAD.moveAfterSeconds * 1000) {
        movedAt = Date.now();
        const move = await api('PUT', `${REPO}/models/digits-clf/aliases/staging`, { auth: alice.basic, body: { version: 2, expected_version: 1 } });
        t.equal(move.status, 200, JSON.stringify(move.body));
      }
      const sentAt = Date.now();
      pending.push(
        infer().then(
          (answer) => void results.push({ sentAt, status: answer.status, version: answer.json?.model_version ?? null }),
          () => void results.push({ sentAt, status: 0, version: null }),
        ),
      );
    }
    await Promise.all(pending);
    const failed = results.filter((r) => r.status !== 200);
    t.equal(results.length, total);
    t.equal(failed.length, 0, `failed requests: ${JSON.stringify(failed.slice(0, 5))}`);
    results.sort((a, b) => a.sentAt - b.sentAt);
    const firstNew = results.find((r) => r.version === '2');
    t.ok(firstNew, 'version 2 answered');
    t.equal(results[0]!.version, '1', 'version 1 answered before the move');
    t.ok(results.slice(-LOAD.perSecond).every((r) => r.version === '2'), 'the last second of answers all come from version 2');
    const lastOld = results.filter((r) => r.version === '1').at(-1)!;
    t.ok(lastOld.sentAt <= firstNew!.sentAt + 1000, 'no version 1 answers once version 2 serves (beyond requests already in flight)');
    t.comment(`switch: ${firstNew!.sentAt - movedAt} ms from the move to the first request version 2 answered; ${results.filter((r) => r.version === '1').length} answers from v1, ${results.filter((r) => r.version === '2').length} from v2`);
    t.match(await deployment(), { state: 'ready', version: 2, switching_to: null });
  });

  await t.test('a killed model process restarts; the API and webhooks show the states', async (t: Test) => {
    const before = receiver.ofEvent('deployment.state').length;
    const killed = await killModelProcess(server.dataDir);
    t.ok(killed > 0, 'killed the model server process');
    const failing = await eventually(deployment, (d) => d.state === 'failing' || d.restarts > 0, 'failing seen', 60_000);
    t.equal(failing.restarts, 1);
    t.match(await eventually(deployment, (d) => d.state === 'ready', 'ready again', 180_000), { state: 'ready', version: 2, restarts: 1 });
    const hooks = await waitFor(() => {
      const states = receiver.ofEvent('deployment.state').slice(before).map((r) => r.json.deployment.state as string);
      return states.includes('ready') ? states : null;
    }, 60_000, 'webhooks');
    // A restart that itself fails adds a failing/starting pair; the order is what matters.
    t.equal(hooks[0], 'failing', `deployment.state webhooks: ${hooks.join(', ')}`);
    t.same(hooks.slice(-2), ['starting', 'ready']);
    t.equal((await infer()).status, 200, 'answers again');
    const logs = await api('GET', `${REPO}/deployments/digits-clf/logs`, { auth: alice.basic });
    t.match(logs.body, /the model server exited/);
  });

  await t.test('removed: stopped, webhook, no more answers', async (t: Test) => {
    t.equal((await api('DELETE', `${REPO}/deployments/digits-clf`, { auth: alice.basic })).status, 200);
    await waitFor(() => receiver.ofEvent('deployment.state').some((r) => r.json.deployment.state === 'stopped'), 30_000, 'stopped webhook');
    t.equal((await infer()).status, 404);
    t.same(await replicaDirectories(server.dataDir), [], 'the replica\'s files are removed');
  });
}

/** The example's source and generated data, without LFS (these tests are about serving). */
async function digitsFiles(): Promise<Record<string, string>> {
  const scratch = path.join(os.tmpdir(), `mlgit-serving-digits-${process.pid}`);
  await cp(EXAMPLE, scratch, { recursive: true, filter: (source) => path.basename(source) !== 'data' });
  execFileSync('/usr/bin/python3', ['make_data.py'], { cwd: scratch });
  const files: Record<string, string> = {};
  for (const name of ['mlproject.yaml', 'common.py', 'train.py', 'evaluate.py', 'serve.py', 'data/digits.csv']) files[name] = await readFile(path.join(scratch, name), 'utf8');
  await rm(scratch, { recursive: true, force: true });
  return files;
}

export async function replicaDirectories(dataDir: string): Promise<string[]> {
  return (await readdir(path.join(dataDir, 'deployments'))).filter((name) => /^\d+\.[0-9a-f]+$/.test(name));
}

/**
 * SIGKILLs the python process (running `script`) of the running replicas, or of those named: the
 * ones whose mounts include the replica's socket directory (the same in a sandbox and a
 * container: /proc/<pid>/mountinfo names the source).
 */
export async function killModelProcess(dataDir: string, script = 'serve.py', only?: readonly string[]): Promise<number> {
  const replicas = only ?? (await replicaDirectories(dataDir));
  let killed = 0;
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes(script) || !cmdline.startsWith('python3')) continue;
      const mounts = await readFile(`/proc/${pid}/mountinfo`, 'utf8');
      if (!replicas.some((replica) => mounts.includes(`deployments/${replica}/s `))) continue;
      process.kill(Number(pid), 'SIGKILL');
      killed += 1;
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return killed;
}
