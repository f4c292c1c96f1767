// A deployment's `port` (issue 11, "Serving"): the model server listens on a TCP port inside its
// own network namespace and mlgit's relay bridges the replica's socket to it, so it still has no
// network. On the process runtime the command listens on the port (the relay runs beside it in the
// sandbox); on the docker runtime (Podman) an image's own entrypoint runs, with no command, and the
// relay is a second container in the model container's network namespace.
import t, { type Test } from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dockerSocketForTests, JOB_IMAGE } from './helpers/podman.ts';
import { podman, podmanOk } from './helpers/podman-stack.ts';
import { eventually } from './helpers/runs.ts';
import { predictorRepo, PREDICTOR_PY } from './helpers/serving.ts';
import { replicaDirectories } from './helpers/serving-scenario.ts';

const PORT = 8080;
const INFER = '/serve/alice/clf/v2/models/clf/infer';

type Repo = Awaited<ReturnType<typeof predictorRepo>>;

/** What every port deployment must do once ready: answer through the relay, both ways, with no network. */
async function servesThroughTheRelay(t: Test, { server, alice, deployment }: Repo): Promise<void> {
  const api = server.api;
  t.match(await deployment(), { state: 'ready', version: 1, port: PORT });
  t.match((await api('GET', '/serve/alice/clf/v2/models/clf', { auth: alice.tokenBasic })).body, { name: 'clf', versions: ['1'], model_bytes: 300_000 });
  // 2 MiB up and the count back: the relay carries a body larger than its buffers.
  const big = { inputs: 'x'.repeat(2 * 1024 * 1024) };
  const infer = await api('POST', INFER, { auth: alice.tokenBasic, body: big });
  t.equal(infer.status, 200, JSON.stringify(infer.body).slice(0, 300));
  t.same(infer.body.outputs[0].data, [JSON.stringify(big).length]);
  const answers = await Promise.all(Array.from({ length: 20 }, () => api('POST', INFER, { auth: alice.tokenBasic, body: { inputs: [] } })));
  t.same(answers.map((a) => a.status), Array(20).fill(200), '20 concurrent requests through the relay');
  const echo = await api('GET', '/serve/alice/clf/clf/echo/a?b=1', { auth: alice.tokenBasic });
  t.equal(echo.body.path, '/echo/a?b=1');
  const network = await api('GET', '/serve/alice/clf/clf/try-network', { auth: alice.tokenBasic });
  t.equal(network.body.network, false, `still no network: ${JSON.stringify(network.body)}`);
  const logs = await api('GET', '/api/v1/repos/alice/clf/deployments/clf/logs', { auth: alice.basic });
  t.match(logs.body, new RegExp(`mlgit relay: /outputs/m.sock -> 127.0.0.1:${PORT}`));
  t.match(logs.body, new RegExp(`predictor version 1 listening on port ${PORT}`));
}

async function removed(t: Test, { server, alice, deployment }: Repo): Promise<void> {
  t.equal((await server.api('DELETE', '/api/v1/repos/alice/clf/deployments/clf', { auth: alice.basic })).status, 200);
  await eventually(async () => (await deployment()).error ?? null, (error) => error !== null, 'deployment gone');
  t.same(await eventually(() => replicaDirectories(server.dataDir), (dirs) => dirs.length === 0, 'replica files removed'), []);
}

t.test('process runtime: a command listening on a port', async (t) => {
  const repo = await predictorRepo(t, { startTimeoutMs: 60_000 });
  const created = await repo.deploy({ port: PORT, env: { PREDICTOR_PORT: String(PORT) } });
  t.equal(created.status, 202, JSON.stringify(created.body));
  t.match(await repo.untilReady(), { state: 'ready' });
  await servesThroughTheRelay(t, repo);
  await removed(t, repo);
});

t.test('docker runtime (Podman): an image\'s own entrypoint on a port, no command', async (t) => {
  const dockerSocket = dockerSocketForTests();
  const image = `localhost/mlgit-test-port-predictor:${process.pid}`;
  const context = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-port-image-'));
  t.teardown(async () => {
    await podman(['rmi', '-f', image]).catch(() => {});
    await fs.rm(context, { recursive: true, force: true });
  });
  await fs.writeFile(path.join(context, 'predictor.py'), PREDICTOR_PY);
  // COPY keeps the mode, and a running mlgit server's umask (077) would leave it unreadable to the job user.
  await fs.chmod(path.join(context, 'predictor.py'), 0o644);
  await fs.writeFile(
    path.join(context, 'Containerfile'),
    `FROM ${JOB_IMAGE}\nCOPY predictor.py /srv/predictor.py\nENV PREDICTOR_PORT=${PORT}\nCMD ["python3", "/srv/predictor.py"]\n`,
  );
  await podmanOk(['build', '-q', '-f', 'Containerfile', '-t', image, '.'], { cwd: context, timeoutMs: 300_000 });

  const repo = await predictorRepo(t, { startTimeoutMs: 120_000 }, { runtime: 'docker', dockerSocket });
  const created = await repo.deploy({ command: undefined, image, port: PORT });
  t.equal(created.status, 202, JSON.stringify(created.body));
  const ready = await repo.untilReady();
  const logs = async () => (await repo.server.api('GET', '/api/v1/repos/alice/clf/deployments/clf/logs', { auth: repo.alice.basic })).body;
  t.match(ready, { state: 'ready', command: null, image }, ready.state === 'ready' ? 'ready' : `${JSON.stringify(ready)}\n${await logs()}`);
  await servesThroughTheRelay(t, repo);
  await removed(t, repo);
});
