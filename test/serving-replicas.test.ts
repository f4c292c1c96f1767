// Replicas (issue 11, "Serving"): a deployment with `replicas: 3` runs three model servers on the
// process runtime (bubblewrap), each on its own unix socket; requests go to the ready ones in
// turn; one replica SIGKILLed under a steady 50 requests/s is restarted on its own while the
// others answer every request (zero failed), one whose health check fails is replaced, and the
// API shows each replica's state.
import t from 'tap';
import { eventually } from './helpers/runs.ts';
import { predictorRepo, steadyLoad } from './helpers/serving.ts';
import { killModelProcess, replicaDirectories } from './helpers/serving-scenario.ts';

const INFER = '/serve/alice/clf/v2/models/clf/infer';
const ECHO = '/serve/alice/clf/clf/echo';
const LOAD = { perSecond: 50, seconds: 12, killAfterMs: 3000 };

t.test('three replicas: round-robin, one killed under load, zero failed requests', async (t) => {
  const { server, alice, deploy, deployment } = await predictorRepo(t, { timeoutMs: 30_000, startTimeoutMs: 60_000, healthIntervalMs: 300 });
  const created = await deploy({ replicas: 3 });
  t.equal(created.status, 202, JSON.stringify(created.body));
  t.equal(created.body.replicas, 3);
  // The deployment turns ready once its last replica has (the replica states show it a moment before).
  const ready = await eventually(deployment, (d) => d.state === 'failing' || (d.state === 'ready' && d.replica_states.filter((r: any) => r.state === 'ready').length === 3), 'three replicas ready', 120_000);
  t.match(ready, { state: 'ready', version: 1, replicas: 3, message: null, source: 'api', manifest_entry: null });
  t.same(ready.replica_states.map((r: any) => [r.index, r.version, r.state, r.restarts]), [[0, 1, 'ready', 0], [1, 1, 'ready', 0], [2, 1, 'ready', 0]]);
  t.equal((await replicaDirectories(server.dataDir)).length, 3, 'one directory (and socket) per replica');

  await t.test('requests go to the ready replicas in turn', async (t) => {
    const instances: string[] = [];
    for (let i = 0; i < 30; i += 1) {
      const answer = await server.api('GET', ECHO, { auth: alice.tokenBasic });
      t.equal(answer.status, 200);
      instances.push(answer.body.instance);
    }
    const counts = [...new Set(instances)].map((id) => instances.filter((x) => x === id).length);
    t.equal(counts.length, 3, `three model servers answered: ${JSON.stringify(counts)}`);
    t.same(counts, [10, 10, 10], 'ten requests each');
  });

  await t.test(`one replica killed under ${LOAD.perSecond} requests/s: the others answer every request`, async (t) => {
    const victim = (await replicaDirectories(server.dataDir))[0]!;
    let killed = 0;
    const states = new Set<string>();
    const infer = async () => {
      // Each answer takes 200 ms: a handful of requests are in flight on the replica when it dies.
      const answer = await server.api('POST', INFER, { auth: alice.tokenBasic, body: { inputs: [], sleep: 0.2 } });
      return { status: answer.status, version: answer.body?.model_version ?? null };
    };
    const results = await steadyLoad(LOAD.perSecond, LOAD.seconds, infer, async (elapsed) => {
      if (killed === 0 && elapsed >= LOAD.killAfterMs) killed = await killModelProcess(server.dataDir, 'predictor.py', [victim]);
      if (killed > 0 && elapsed % 500 < 25) states.add((await deployment()).state);
    });
    t.equal(killed, 1, 'killed one model server');
    const failed = results.filter((r) => r.status !== 200);
    t.equal(results.length, LOAD.perSecond * LOAD.seconds);
    t.equal(failed.length, 0, `failed requests: ${JSON.stringify(failed.slice(0, 5))}`);
    t.same([...states], ['ready'], 'the deployment stayed ready while one replica restarted');
    const after = await eventually(deployment, (d) => d.replica_states.filter((r: any) => r.state === 'ready').length === 3, 'all three ready again', 120_000);
    t.match(after, { state: 'ready', restarts: 1, message: null });
    t.same(after.replica_states.map((r: any) => r.restarts).sort(), [0, 0, 1], 'the killed replica restarted, on its own');
    t.notOk((await replicaDirectories(server.dataDir)).includes(victim), 'the dead replica\'s files are gone');
    const logs = (await server.api('GET', '/api/v1/repos/alice/clf/deployments/clf/logs', { auth: alice.basic })).body as string;
    t.match(logs, /the model server exited \(.*\) \(replica \d\)/);
  });

  await t.test('a replica down is visible in the API while it restarts', async (t) => {
    const killed = await killModelProcess(server.dataDir, 'predictor.py', [(await replicaDirectories(server.dataDir))[1]!]);
    t.equal(killed, 1);
    const degraded = await eventually(deployment, (d) => d.replica_states.some((r: any) => r.state !== 'ready'), 'a replica not ready', 30_000);
    t.match(degraded, { state: 'ready', message: /^2 of 3 replicas ready; replica \d: / });
    await eventually(deployment, (d) => d.replica_states.every((r: any) => r.state === 'ready'), 'whole again', 120_000);
  });

  await t.test('a replica whose health check keeps failing is taken out and restarted', async (t) => {
    const before = await deployment();
    const sick = await server.api('POST', '/serve/alice/clf/clf/sicken', { auth: alice.tokenBasic, body: {} });
    t.equal(sick.status, 200);
    const replaced = await eventually(deployment, (d) => d.restarts === before.restarts + 1, 'restarted after its health checks failed', 30_000);
    t.equal(replaced.state, 'ready', 'the others kept the deployment ready');
    const healthy = await eventually(deployment, (d) => d.replica_states.every((r: any) => r.state === 'ready'), 'whole again', 120_000);
    t.same(healthy.replica_states.map((r: any) => r.restarts).reduce((a: number, b: number) => a + b, 0), before.replica_states.map((r: any) => r.restarts).reduce((a: number, b: number) => a + b, 0) + 1);
    const instances = new Set<string>();
    for (let i = 0; i < 6; i += 1) instances.add((await server.api('GET', ECHO, { auth: alice.tokenBasic })).body.instance);
    t.notOk(instances.has(sick.body.instance), 'the sick model server no longer answers');
    const logs = (await server.api('GET', '/api/v1/repos/alice/clf/deployments/clf/logs', { auth: alice.basic })).body as string;
    t.match(logs, /the model server failed its health check: no 200 from \/v2\/health\/ready 3 times in a row \(replica \d\); restarting it/);
  });
});
