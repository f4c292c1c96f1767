// Issue 13: job containers of a runner that died are found by their io.mlgit.job label and
// removed, when a runner starts and periodically. Real Podman (the Docker Engine API).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import t from 'tap';
import type Docker from 'dockerode';
import { isOrphan, JOB_LABEL, jobLabels, OWNER_LABEL, sweepOrphans, type RunnerProcess } from '../runner/runtime/orphan-sweep.ts';
import { GitClient } from './helpers/git-client.ts';
import { dockerSocketForTests, JOB_IMAGE } from './helpers/podman.ts';
import { RunnerProcesses } from './helpers/runner-process.ts';
import { eventually, manifest, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';

const REDIS_URL = process.env.MLGIT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SELF: RunnerProcess = { host: 'runner-host', pid: 100, instance: 'me' };

t.test('which containers are orphans', async (t) => {
  const alive = (pid: number) => pid === 200;
  const cases: [string | undefined, boolean, string][] = [
    ['runner-host/300/other', true, "a dead process's container"],
    ['runner-host/200/other', false, 'a live peer on this host'],
    ['runner-host/100/earlier', true, 'our pid, another instance: the runner this one replaced (a restarted container)'],
    ['runner-host/100/me', false, 'our own'],
    ['elsewhere/300/other', false, "another host's runner: not ours to judge"],
    [undefined, false, 'no owner label (an older runner)'],
    ['garbage', false, 'an owner label not in our format'],
    ['runner/host/300/x', true, 'a host name is everything before the last two parts'],
  ];
  for (const [owner, orphan, what] of cases) {
    const self = owner === 'runner/host/300/x' ? { ...SELF, host: 'runner/host' } : SELF;
    t.equal(isOrphan(owner, self, alive), orphan, what);
  }
});

function engine(): Docker {
  const Dockerode = createRequire(import.meta.url)('dockerode') as typeof Docker;
  return new Dockerode({ socketPath: dockerSocketForTests() });
}

async function containersOf(docker: Docker, owner: (label: string) => boolean): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [JOB_LABEL] } });
  return list.filter((c) => owner(c.Labels[OWNER_LABEL] ?? '')).map((c) => c.Id);
}

t.test('a sweep on a real engine removes only the containers of dead runners of this host', async (t) => {
  const docker = engine();
  const tag = randomBytes(4).toString('hex');
  // A pid surely dead: a child that has exited and been reaped.
  const gone = spawn('true');
  await new Promise((resolve) => gone.on('exit', resolve));
  const host = os.hostname();
  const peer = spawn('sleep', ['300']);
  t.teardown(() => peer.kill('SIGKILL'));
  const owners = {
    dead: { host, pid: gone.pid!, instance: `dead-${tag}` },
    live: { host, pid: peer.pid!, instance: `live-${tag}` },
    remote: { host: `elsewhere-${tag}`, pid: gone.pid!, instance: `remote-${tag}` },
  };
  const created: Record<string, string> = {};
  for (const [name, owner] of Object.entries(owners)) {
    const container = await docker.createContainer({ Image: JOB_IMAGE, Cmd: ['sleep', '300'], Labels: jobLabels(owner) });
    await container.start();
    created[name] = container.id;
  }
  t.teardown(async () => {
    for (const id of Object.values(created)) await docker.getContainer(id).remove({ force: true }).catch(() => {});
  });
  const sweeper: RunnerProcess = { host, pid: process.pid, instance: `sweeper-${tag}` };
  const removed = await sweepOrphans(docker, sweeper);
  t.ok(removed.includes(created.dead!), 'the dead runner’s running container is removed');
  t.notOk(removed.includes(created.live!), 'a live runner’s is kept');
  t.notOk(removed.includes(created.remote!), 'another host’s is kept');
  const left = await containersOf(docker, (label) => label.endsWith(tag));
  t.same(left.sort(), [created.live!, created.remote!].sort(), 'the engine agrees');
});

t.test('a runner killed mid-job leaves its container; the next runner to start removes it', async (t) => {
  const socket = dockerSocketForTests();
  const docker = engine();
  const prefix = `mlgit-orphans-${randomBytes(4).toString('hex')}`;
  const runnerToken = randomBytes(24).toString('hex');
  const server = await startRunsServer(t, { runner: 'off', runnerToken, stallTimeoutMs: 3000 }, { config: { redisUrl: REDIS_URL, redisPrefix: prefix } });
  const runners = new RunnerProcesses();
  t.teardown(() => runners.killAll());
  const startRunner = () =>
    runners.start({ REDIS_URL, MLGIT_REDIS_PREFIX: prefix, MLGIT_SERVER_URL: server.url, MLGIT_RUNNER_TOKEN: runnerToken, MLGIT_RUNTIME: 'docker', MLGIT_DOCKER_SOCKET: socket, MLGIT_RUNNER_HEARTBEAT_MS: '300' });
  const client = await GitClient.create(t);
  const alice = await server.user('alice');
  const { sha, push } = await pushProject(server, client, alice, 'orphan', { 'mlproject.yaml': manifest('jobs:\n  long:\n    kind: custom\n    command: echo started && sleep 600\n') });
  t.equal(push.code, 0, push.stderr);

  const first = startRunner();
  const ownedByFirst = (label: string) => label.startsWith(`${os.hostname()}/${first.pid}/`);
  await waitForRuns(server, alice.basic, 'alice/orphan', sha, { done: (runs) => runs[0]?.status === 'running' });
  const [container] = await eventually(() => containersOf(docker, ownedByFirst), (ids) => ids.length === 1, 'the job container');
  // Killed once the job runs (its first line is in the log), not between create and start.
  const runId = (await waitForRuns(server, alice.basic, 'alice/orphan', sha, { done: () => true }))[0]!.id;
  await eventually(() => server.api('GET', `/api/v1/repos/alice/orphan/runs/${runId}/logs`, { auth: alice.basic }).then((r) => String(r.body)), (log) => log.includes('started\n'), 'the job prints');
  t.teardown(() => docker.getContainer(container!).remove({ force: true }).catch(() => {}));
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  const state = (await docker.getContainer(container!).inspect()).State;
  t.equal(state.Status, 'running', 'the job container outlives its runner');

  startRunner();
  await eventually(() => containersOf(docker, ownedByFirst), (ids) => ids.length === 0, 'the orphan removed by the next runner', 60_000);
  t.pass('no container of the dead runner is left');
  const [run] = await waitForRuns(server, alice.basic, 'alice/orphan', sha, { timeoutMs: 60_000 });
  t.equal(run!.status, 'error', `the run is settled by stall detection: ${run!.message}`);
});
