// MLGIT_DEPLOY_IDLE_STOP: a deployment without requests stops (state `stopped`, webhook-visible
// in the API), and the next request starts it again, waits for it and says so in
// X-Mlgit-Cold-Start-Ms; requests meanwhile are served, not failed.
import t from 'tap';
import { eventually } from './helpers/runs.ts';
import { predictorRepo } from './helpers/serving.ts';

const INFER = '/serve/alice/clf/v2/models/clf/infer';

t.test('an idle deployment stops and starts again on the next request', async (t) => {
  const { server, alice, deploy, deployment, untilReady } = await predictorRepo(t, { timeoutMs: 30_000, maxBodyBytes: 65536, maxResponseBytes: 1 << 20, startTimeoutMs: 60_000, idleStopMs: 1500 });
  t.equal((await deploy({})).status, 202);
  t.match(await untilReady(), { state: 'ready', version: 1 });
  const warm = await server.api('POST', INFER, { auth: alice.tokenBasic, body: { inputs: [] } });
  t.equal(warm.status, 200);
  t.equal(warm.headers.get('x-mlgit-cold-start-ms'), null, 'a running deployment answers without a cold start');

  const stopped = await eventually(deployment, (d) => d.state === 'stopped', 'stopped when idle', 30_000);
  t.match(stopped.message, /idle for 2 s; the next request starts it again|idle for 1 s; the next request starts it again/);
  const logs = await server.api('GET', '/api/v1/repos/alice/clf/deployments/clf/logs', { auth: alice.basic });
  t.match(logs.body, /stopped: idle/);

  // Three requests at once on a stopped deployment: one start, all three answered.
  const cold = await Promise.all([1, 2, 3].map(() => server.api('POST', INFER, { auth: alice.tokenBasic, body: { inputs: [] } })));
  for (const answer of cold) {
    t.equal(answer.status, 200, JSON.stringify(answer.body));
    t.match(answer.body, { model_version: '1' });
    t.ok(Number(answer.headers.get('x-mlgit-cold-start-ms')) > 0, `cold start reported: ${answer.headers.get('x-mlgit-cold-start-ms')} ms`);
  }
  t.match(await deployment(), { state: 'ready', version: 1 });
  const started = (await server.api('GET', '/api/v1/repos/alice/clf/deployments/clf/logs', { auth: alice.basic })).body as string;
  t.equal(started.match(/version 1 is ready/g)?.length, 2, 'started twice in all: at deploy and at the cold start');
});
