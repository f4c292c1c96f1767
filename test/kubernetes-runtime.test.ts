// The Kubernetes runtime (MLGIT_RUNTIME=kubernetes) against a fake API server
// (test/helpers/fake-kubernetes.ts) whose pods really run, through the docker runtime on the
// real Podman service: the same ContainerRuntime contract as the docker and process runtimes,
// then what is Kubernetes' own: the Job's shape (checked against the API types of the client
// library's version and the restricted Pod Security Standard), the status mapping, and that
// every Job created is deleted.
import { KubeConfig, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createRuntime } from '../runner/runtime/index.ts';
import { ConfigError, loadConfig } from '../server/config.ts';
import { buildJob } from '../runner/runtime/kubernetes-job.ts';
import { podProgress } from '../runner/runtime/kubernetes-outcome.ts';
import { KubernetesRuntime } from '../runner/runtime/kubernetes.ts';
import { RuntimeError, type RunSpec } from '../runner/runtime/types.ts';
import { containerRuntimeContract } from './helpers/container-runtime-contract.ts';
import { FakeKubernetes } from './helpers/fake-kubernetes.ts';
import { schemaProblems } from './helpers/kubernetes-schema.ts';
import { dockerSocketForTests, JOB_IMAGE } from './helpers/podman.ts';

const NAMESPACE = 'mlgit-jobs';
const CLAIM = 'mlgit-work';
const MiB = 1024 * 1024;

function kubeConfigFor(server: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'fake', server, skipTLSVerify: true }],
    users: [{ name: 'runner', token: 'fake-service-account-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'runner', namespace: NAMESPACE }],
    currentContext: 'fake',
  });
  return config;
}

// The contract's workspaces are made under the system temp dir: that is the work root here, and
// the fake's claim is the same directory (in a cluster, a PersistentVolumeClaim mounted there).
const workRoot = tmpdir();

t.test('kubernetes runtime (fake API server, pods run on Podman)', async (t) => {
  const docker = createRuntime({ kind: 'docker', dockerSocket: dockerSocketForTests() });
  const fake = await FakeKubernetes.start({ runtime: docker, claim: CLAIM, claimDir: workRoot, podPidsLimit: 1024 });
  const runtime = new KubernetesRuntime({ kubeConfig: kubeConfigFor(fake.url), namespace: NAMESPACE, workClaim: CLAIM, workRoot, ttlSeconds: 600 });
  t.teardown(async () => {
    await runtime.close();
    await fake.close();
    await docker.close();
  });

  t.test('the ContainerRuntime contract', async (t) => {
    containerRuntimeContract(t, {
      runtime,
      image: JOB_IMAGE,
      python: 'python3',
      reportsOom: true,
      // A pod spec has no pids limit: it is the kubelet's podPidsLimit, set per node.
      limitsPids: false,
      usesImages: true,
      engineEnv: ['HOSTNAME', 'container', 'TERM', 'PWD', 'SHLVL', 'OLDPWD', '_'],
      // The fake API server streams the pod's output in this process too (42-64 MB in five whole-suite runs, against one bound of 64).
      outputPassesInProcess: 2,
    });
  });

  t.test('every request body fit the API schema and the restricted profile; every Job created was deleted', async (t) => {
    const created = fake.requests.filter((r) => r.method === 'POST');
    t.ok(created.length >= 10, `${created.length} Jobs created`);
    t.same(fake.refused, [], 'nothing refused');
    for (const request of created) t.same(schemaProblems(request.body, 'V1Job'), [], `${(request.body as V1Job).metadata?.name} fits V1Job`);
    const deleted = new Set(fake.requests.filter((r) => r.method === 'DELETE').map((r) => r.path.split('?')[0]!.split('/').pop()));
    t.same(created.map((r) => (r.body as V1Job).metadata!.name).filter((name) => !deleted.has(name)), [], 'each was deleted by the runtime');
    t.equal(fake.jobs.size, 0, 'no Job is left');
    const watched = fake.requests.filter((r) => r.method === 'GET' && r.path.includes('/pods?') && r.path.includes('watch=true'));
    t.ok(watched.length >= created.length, 'pods are watched by label');
    t.ok(fake.requests.some((r) => /\/pods\/[^/]+\/log\?container=job&follow=true/.test(r.path)), 'logs are followed');
  });

  t.test('a workspace outside the work root is refused before anything is created', async (t) => {
    const before = fake.requests.length;
    await t.rejects(runtime.run(spec({ workspace: '/var/lib/elsewhere', outputs: join(workRoot, 'x') })), { name: 'TypeError', message: /workspace "\/var\/lib\/elsewhere" is not below the Kubernetes work root/ });
    t.equal(fake.requests.length, before);
  });

  t.test('MLGIT_RUNTIME=kubernetes through createRuntime: the kubeconfig from KUBECONFIG, its context namespace', async (t) => {
    const dir = await mkdtemp(join(workRoot, 'mlgit-k8s-lazy-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, kubeConfigFor(fake.url).exportConfig());
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = kubeconfig;
    t.teardown(() => (saved === undefined ? delete process.env.KUBECONFIG : (process.env.KUBECONFIG = saved)));
    const settings = loadConfig({ MLGIT_RUNTIME: 'kubernetes', MLGIT_K8S_WORK_CLAIM: CLAIM, MLGIT_RUNNER_WORK_DIR: workRoot }).runs.kubernetes;
    const lazy = createRuntime({ kind: 'kubernetes', kubernetes: settings });
    t.teardown(() => lazy.close());
    let output = '';
    const before = fake.requests.filter((r) => r.method === 'POST').length;
    const result = await lazy.run(spec({ workspace: dir, outputs: dir, commands: ['echo from a pod'], onOutput: async (chunk) => void (output += chunk.toString()) }));
    t.match(result, { outcome: 'exited', exitCode: 0 });
    t.equal(output, 'from a pod\n');
    const created = fake.requests.filter((r) => r.method === 'POST');
    t.equal(created.length, before + 1);
    t.equal(created.at(-1)!.path, `/apis/batch/v1/namespaces/${NAMESPACE}/jobs`, "in the kubeconfig context's namespace");
  });

  t.test('read-only host mounts (deployments) are refused: pods cannot see the runner host', async (t) => {
    await t.rejects(runtime.run(spec({ workspace: join(workRoot, 'a'), outputs: join(workRoot, 'b'), readOnlyMounts: [{ source: '/srv/model', target: '/model' }] })), { name: 'RuntimeError', message: /cannot bind host directories/ });
  });

  t.test('orphan sweep: Jobs of a runner pod that is gone, or of an earlier start of this one, are deleted', async (t) => {
    const dir = await mkdtemp(join(workRoot, 'mlgit-k8s-orphans-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    fake.otherPods.add('runner-b');
    const runnerFor = (pod: string, instance: string) => new KubernetesRuntime({ kubeConfig: kubeConfigFor(fake.url), namespace: NAMESPACE, workClaim: CLAIM, workRoot, ttlSeconds: 600, owner: { pod, instance } });
    // Each "runner" starts a long job and is then forgotten, as if it died mid-run.
    const started = (runtime: KubernetesRuntime) => {
      const stop = new AbortController();
      void runtime.run(spec({ workspace: dir, outputs: dir, commands: ['sleep 60'], signal: stop.signal })).catch(() => {});
      return stop;
    };
    const stops = [started(runnerFor('runner-a', 'old')), started(runnerFor('runner-a', 'current')), started(runnerFor('runner-b', 'x')), started(runnerFor('runner-gone', 'y'))];
    t.teardown(() => stops.forEach((stop) => stop.abort()));
    const ownerOf = (name: string) => fake.jobs.get(name)!.job.metadata!.labels!;
    for (let i = 0; i < 200 && fake.jobs.size < 4; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    t.equal(fake.jobs.size, 4, 'four Jobs run');
    const before = new Map([...fake.jobs.keys()].map((name) => [name, `${ownerOf(name)['io.mlgit.runner-pod']}/${ownerOf(name)['io.mlgit.runner-instance']}`]));
    const removed = await runnerFor('runner-a', 'current').sweepOrphans();
    t.same(removed.map((name) => before.get(name)).sort(), ['runner-a/old', 'runner-gone/y'], 'the earlier start of this pod and the pod that is gone');
    t.same([...fake.jobs.keys()].map((name) => before.get(name)).sort(), ['runner-a/current', 'runner-b/x'], 'this start and a live peer keep theirs');
    t.same(await runtime.sweepOrphans(), [], 'a runner that does not know its pod never sweeps');
    t.same(await createRuntime({ kind: 'kubernetes', kubernetes: { namespace: NAMESPACE, workClaim: CLAIM, workRoot, ttlSeconds: 600 } }).sweepOrphans?.(), [], 'nor outside a cluster (no KUBERNETES_SERVICE_HOST)');
  });

  t.test('a Job the API server refuses is a RuntimeError with its message', async (t) => {
    const broken = new KubernetesRuntime({ kubeConfig: kubeConfigFor(fake.url), namespace: 'Not A Namespace', workClaim: CLAIM, workRoot, ttlSeconds: 600 });
    const dir = await mkdtemp(join(workRoot, 'mlgit-k8s-refused-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await t.rejects(broken.run(spec({ workspace: dir, outputs: dir })), RuntimeError);
  });
});

function spec(overrides: Partial<RunSpec>): RunSpec {
  return {
    image: JOB_IMAGE,
    commands: ['true'],
    workspace: join(workRoot, 'ws'),
    outputs: join(workRoot, 'out'),
    env: {},
    limits: { cpus: 1, memoryBytes: 256 * MiB, pids: 64 },
    timeoutMs: 60_000,
    network: false,
    signal: new AbortController().signal,
    onOutput: async () => {},
    ...overrides,
  };
}

t.test('the Job manifest', async (t) => {
  const site = { namespace: NAMESPACE, workClaim: CLAIM, workRoot: '/work', ttlSeconds: 600 };
  const job = buildJob('mlgit-job-abc', spec({ workspace: '/work/run-1/workspace', outputs: '/work/run-1/outputs', timeoutMs: 90_500, limits: { cpus: 1.5, memoryBytes: 512 * MiB, pids: 64, gpus: 2 }, env: { MLP_PARAM_LR: '0.1' } }), site, { uid: 1000, gid: 1000 });
  t.same(schemaProblems(job, 'V1Job'), [], 'fits V1Job');
  const pod = job.spec!.template.spec!;
  const container = pod.containers[0]!;
  t.equal(job.spec!.activeDeadlineSeconds, 91, 'activeDeadlineSeconds from the timeout, rounded up');
  t.equal(job.spec!.ttlSecondsAfterFinished, 600);
  t.equal(job.spec!.backoffLimit, 0, 'one attempt per Job');
  t.same(container.resources, { requests: { cpu: '1500m', memory: String(512 * MiB), 'nvidia.com/gpu': '2' }, limits: { cpu: '1500m', memory: String(512 * MiB), 'nvidia.com/gpu': '2' } });
  t.same(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, privileged: false, capabilities: { drop: ['ALL'] } });
  t.match(pod.securityContext, { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
  t.equal(pod.automountServiceAccountToken, false, 'no API token in the job');
  t.equal(job.spec!.template.metadata!.labels!['io.mlgit.egress'], 'none', 'no network: the label a deny-egress NetworkPolicy selects');
  t.equal(buildJob('j', spec({ workspace: '/work/a', outputs: '/work/b', network: true }), site, { uid: 1, gid: 1 }).spec!.template.metadata!.labels!['io.mlgit.egress'], 'allowed');
  t.same(container.volumeMounts, [
    { name: 'work', mountPath: '/workspace', subPath: 'run-1/workspace' },
    { name: 'work', mountPath: '/outputs', subPath: 'run-1/outputs' },
    { name: 'tmp', mountPath: '/tmp' },
  ]);
  t.same(pod.volumes, [{ name: 'work', persistentVolumeClaim: { claimName: CLAIM } }, { name: 'tmp', emptyDir: {} }]);
  t.notOk('nvidia.com/gpu' in buildJob('j', spec({ workspace: '/work/a', outputs: '/work/b' }), site, { uid: 1, gid: 1 }).spec!.template.spec!.containers[0]!.resources!.limits!, 'no GPU unless asked');
  const typo = structuredClone(job) as unknown as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
  typo.spec.template.spec.containers[0]!.securityContext = { readOnlyRootFileSystem: true };
  t.same(schemaProblems(typo, 'V1Job'), ['$.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem: unknown field of V1SecurityContext'], 'the schema check catches a misspelt field');
  t.same(schemaProblems({ spec: { backoffLimit: '0' } }, 'V1Job'), ['$.spec.backoffLimit: expected a number, got "0"'], 'and a wrong type');
});

t.test('pod statuses map to outcomes', async (t) => {
  const pod = (status: V1Pod['status']): V1Pod => ({ status });
  const container = (state: object) => ({ containerStatuses: [{ name: 'job', image: 'i', imageID: '', ready: false, restartCount: 0, state }] });
  const table: [string, V1Pod['status'], unknown][] = [
    ['pending', { phase: 'Pending', ...container({ waiting: { reason: 'ContainerCreating' } }) }, { state: 'pending' }],
    ['running', { phase: 'Running', ...container({ running: {} }) }, { state: 'running' }],
    ['exit 0', { phase: 'Succeeded', ...container({ terminated: { exitCode: 0, reason: 'Completed' } }) }, { state: 'done', outcome: 'exited', exitCode: 0 }],
    ['exit 3', { phase: 'Failed', ...container({ terminated: { exitCode: 3, reason: 'Error' } }) }, { state: 'done', outcome: 'exited', exitCode: 3 }],
    ['OOMKilled', { phase: 'Failed', ...container({ terminated: { exitCode: 137, reason: 'OOMKilled' } }) }, { state: 'done', outcome: 'oom', exitCode: 137 }],
    ['DeadlineExceeded', { phase: 'Failed', reason: 'DeadlineExceeded' }, { state: 'done', outcome: 'timeout', exitCode: null }],
  ];
  for (const [what, status, expected] of table) t.same(podProgress(pod(status), 'img'), expected, what);
  const errors: [string, V1Pod['status'], RegExp][] = [
    ['ImagePullBackOff', { phase: 'Pending', ...container({ waiting: { reason: 'ImagePullBackOff', message: 'not found' } }) }, /cannot pull the job image img \(ImagePullBackOff/],
    ['ErrImagePull', { phase: 'Pending', ...container({ waiting: { reason: 'ErrImagePull' } }) }, /cannot pull the job image img \(ErrImagePull/],
    ['Evicted', { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }, /evicted by its node: The node was low on resource: memory/],
    ['CreateContainerConfigError', { phase: 'Pending', ...container({ waiting: { reason: 'CreateContainerConfigError', message: 'bad' } }) }, /could not start \(CreateContainerConfigError: bad\)/],
    ['failed without a container status', { phase: 'Failed' }, /ended \(Failed\) without a container status/],
  ];
  for (const [what, status, message] of errors) t.throws(() => podProgress(pod(status), 'img'), { name: 'RuntimeError', message }, what);
});

t.test('MLGIT_RUNTIME=kubernetes settings and bad inputs', async (t) => {
  const base = { MLGIT_RUNTIME: 'kubernetes', MLGIT_K8S_WORK_CLAIM: 'mlgit-work', MLGIT_RUNNER_WORK_DIR: '/work' };
  t.same(loadConfig(base).runs.kubernetes, { namespace: null, workClaim: 'mlgit-work', workRoot: '/work', ttlSeconds: 600 });
  t.same(loadConfig({ ...base, MLGIT_K8S_NAMESPACE: 'ml-jobs', MLGIT_K8S_JOB_TTL_SECONDS: '60' }).runs.kubernetes, { namespace: 'ml-jobs', workClaim: 'mlgit-work', workRoot: '/work', ttlSeconds: 60 });
  t.equal(loadConfig({}).runs.kubernetes, null, 'none for the other runtimes');
  const bad: [Record<string, string>, RegExp][] = [
    [{ ...base, MLGIT_K8S_WORK_CLAIM: '' }, /needs MLGIT_K8S_WORK_CLAIM/],
    [{ ...base, MLGIT_RUNNER_WORK_DIR: '' }, /needs MLGIT_RUNNER_WORK_DIR/],
    [{ ...base, MLGIT_K8S_WORK_CLAIM: 'Work_Claim' }, /MLGIT_K8S_WORK_CLAIM must be a Kubernetes name/],
    [{ ...base, MLGIT_K8S_NAMESPACE: '-jobs' }, /MLGIT_K8S_NAMESPACE must be a Kubernetes name/],
    [{ ...base, MLGIT_K8S_NAMESPACE: 'a'.repeat(64) }, /MLGIT_K8S_NAMESPACE must be a Kubernetes name/],
    [{ ...base, MLGIT_K8S_JOB_TTL_SECONDS: 'soon' }, /MLGIT_K8S_JOB_TTL_SECONDS must be a whole number/],
    [{ MLGIT_RUNTIME: 'k8s' }, /MLGIT_RUNTIME must be one of process, docker, kubernetes/],
  ];
  for (const [env, message] of bad) t.throws(() => loadConfig(env), message, JSON.stringify(env));
  for (const [env] of bad) t.ok((() => { try { loadConfig(env); } catch (err) { return err instanceof ConfigError; } return false; })(), 'a ConfigError');
});
