// Deployments declared in mlproject.yaml (issue 11, "Serving"), on the process runtime
// (bubblewrap): a push to the default branch applies its `deployments:` in the background: an
// entry takes over the API's deployment of its model, a changed entry switches blue/green to the
// new spec under steady load with zero failed requests, the API refuses to change what the
// manifest owns (409 naming the entry), other branches change nothing, an entry over the server's
// caps is recorded but not started, and a removed entry stops the deployment.
import t from 'tap';
import { REGISTRY_MANIFEST } from './helpers/registry.ts';
import { eventually } from './helpers/runs.ts';
import { PREDICTOR_COMMAND, predictorRepo, steadyLoad } from './helpers/serving.ts';
import { replicaDirectories } from './helpers/serving-scenario.ts';

const REPO = '/api/v1/repos/alice/clf';
const ECHO = '/serve/alice/clf/clf/echo';

t.test('deployments: in mlproject.yaml, applied after pushes to the default branch', async (t) => {
  const { server, alice, client, dir, deploy, deployment } = await predictorRepo(t, { timeoutMs: 30_000, startTimeoutMs: 60_000 });
  const api = server.api;
  // An alias of its own: pushes below run the train job again, which moves `latest`.
  t.equal((await api('PUT', `${REPO}/models/clf/aliases/staging`, { auth: alice.basic, body: { version: 1, expected_version: null } })).status, 200);
  const push = async (deployments: string, branch = 'main') => {
    await client.commit(dir, { 'mlproject.yaml': `${REGISTRY_MANIFEST}${deployments}` }, `deployments: ${deployments.length}`);
    const pushed = await client.run(['push', 'origin', `HEAD:refs/heads/${branch}`], { cwd: dir });
    t.equal(pushed.code, 0, pushed.stderr);
  };
  const echo = async () => (await api('GET', ECHO, { auth: alice.tokenBasic })).body;
  const whole = (d: any, replicas: number) => d.replica_states.length === replicas && d.replica_states.every((r: any) => r.state === 'ready');

  const made = await deploy({ alias: 'staging' });
  t.equal(made.status, 202, JSON.stringify(made.body));
  await eventually(deployment, (d) => d.state === 'ready', 'the API\'s deployment is ready', 120_000);

  await t.test('an entry takes over the API\'s deployment of its model', async (t) => {
    const started = Date.now();
    await push(`deployments:\n  clf: {alias: staging, command: ${PREDICTOR_COMMAND}, replicas: 2, env: {GREETING: one}}\n`);
    t.ok(Date.now() - started < 30_000, 'the push answered');
    const owned = await eventually(deployment, (d) => d.source === 'manifest' && whole(d, 2), 'owned by the manifest, two replicas', 120_000);
    t.match(owned, { state: 'ready', version: 1, alias: 'staging', replicas: 2, manifest_entry: 'clf', env: { GREETING: 'one' } });
    t.equal((await echo()).greeting, 'one', 'the new spec answers');
    // The API's replica drains, then stops and its files go: after the new spec answers.
    t.equal((await eventually(() => replicaDirectories(server.dataDir), (dirs) => dirs.length === 2, 'the API\'s replica gone', 60_000)).length, 2, 'the API\'s replica stopped');
  });

  await t.test('the API may not change what the manifest owns', async (t) => {
    const removed = await api('DELETE', `${REPO}/deployments/clf`, { auth: alice.basic });
    t.equal(removed.status, 409);
    t.match(removed.body.error.message, /^clf is deployed by deployments\.clf of mlproject\.yaml on main; remove the entry there to stop it$/);
    const again = await deploy({ alias: 'staging' });
    t.equal(again.status, 409);
    t.match(again.body.error.message, /^clf is deployed by deployments\.clf of mlproject\.yaml on main; change it there$/);
    t.match(await deployment(), { state: 'ready', source: 'manifest' });
  });

  await t.test('a changed entry switches blue/green under load: zero failed requests', async (t) => {
    let pushed = false;
    const results = await steadyLoad(40, 12, async () => {
      const answer = await api('GET', ECHO, { auth: alice.tokenBasic });
      return { status: answer.status, version: answer.body?.greeting ?? null };
    }, async (elapsed) => {
      if (!pushed && elapsed >= 2000) {
        pushed = true;
        await push(`deployments:\n  clf: {alias: staging, command: ${PREDICTOR_COMMAND}, replicas: 3, env: {GREETING: two}}\n`);
      }
    });
    const failed = results.filter((r) => r.status !== 200);
    t.equal(failed.length, 0, `failed requests: ${JSON.stringify(failed.slice(0, 5))}`);
    t.equal(results[0]!.version, 'one');
    const switched = await eventually(deployment, (d) => d.env.GREETING === 'two' && d.switching_to === null && whole(d, 3), 'three replicas of the new spec', 120_000);
    t.match(switched, { state: 'ready', version: 1, replicas: 3 });
    t.ok(results.some((r) => r.version === 'two'), `the new spec answered during the load: ${results.filter((r) => r.version === 'two').length} of ${results.length}`);
    t.equal((await echo()).greeting, 'two');
    const logs = (await api('GET', `${REPO}/deployments/clf/logs`, { auth: alice.basic })).body as string;
    t.match(logs, /switched traffic to version 1 with the new settings/);
    t.equal((await eventually(() => replicaDirectories(server.dataDir), (dirs) => dirs.length === 3, 'the old replicas gone', 60_000)).length, 3, 'the old replicas stopped');
  });

  await t.test('a push to another branch changes nothing', async (t) => {
    await push('', 'dev');
    // The manifest job runs after any branch push; give it time to (not) act.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    t.match(await deployment(), { state: 'ready', source: 'manifest', replicas: 3 });
  });

  await t.test('an entry over the server\'s caps is recorded, not started', async (t) => {
    await push(`deployments:\n  clf: {alias: staging, command: ${PREDICTOR_COMMAND}, replicas: 9}\n`);
    const refused = await eventually(deployment, (d) => d.replicas === 9, 'the new entry recorded', 60_000);
    t.match(refused, { state: 'failing', message: 'not started: replicas may be at most 4 on this server (MLGIT_DEPLOY_MAX_REPLICAS)', replica_states: [] });
    await eventually(() => replicaDirectories(server.dataDir), (dirs) => dirs.length === 0, 'its replicas stopped', 60_000);
    t.equal((await api('GET', ECHO, { auth: alice.tokenBasic })).status, 404, 'nothing serves it');
  });

  await t.test('a removed entry stops the deployment', async (t) => {
    await push(`deployments:\n  clf: {alias: staging, command: ${PREDICTOR_COMMAND}}\n`);
    await eventually(deployment, (d) => d.replicas === 1 && whole(d, 1), 'back within the caps: started', 120_000);
    await push('');
    await eventually(() => api('GET', `${REPO}/deployments/clf`, { auth: alice.basic }), (r) => r.status === 404, 'the deployment is gone', 60_000);
    await eventually(() => replicaDirectories(server.dataDir), (dirs) => dirs.length === 0, 'its replica stopped', 60_000);
    t.equal((await deploy({ alias: 'staging' })).status, 202, 'the API may deploy the model again');
  });
});
