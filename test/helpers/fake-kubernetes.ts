// A Kubernetes API server for tests of runner/runtime/kubernetes.ts: the handful of endpoints the
// runtime uses (create/get/delete Job, list and watch pods by label, pod log with follow), with
// what the control plane would do behind them done for real: each Job's pod runs its container's
// argv through the docker runtime on the real Podman service, with the pod's image, environment,
// mounts (the work claim is a host directory), CPU and memory limits, NetworkPolicy (pods labelled
// io.mlgit.egress=none get no network), the Job's activeDeadlineSeconds (pod deleted, Job Failed
// with DeadlineExceeded, as the Job controller does) and OOMKilled / ErrImagePull statuses.
// Request bodies are checked against the API types of the client library's version, and pods
// against the Pod Security Standard "restricted" profile, as admission would.
import http from 'node:http';
import path from 'node:path';
import type { V1Job, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import type { ContainerRuntime } from '../../runner/runtime/types.ts';
import { RuntimeError } from '../../runner/runtime/types.ts';
import { schemaProblems } from './kubernetes-schema.ts';

interface FakeJob {
  job: V1Job;
  pod: V1Pod;
  stop: AbortController;
  /** Settles when the container has ended (the pod object is removed only then, as a kubelet does). */
  ended: Promise<void>;
  log: Buffer[];
  logBytes: number;
  logDone: boolean;
  /** Wakes log followers (more output, or the end) and a producer waiting for room. */
  wake: Set<() => void>;
}

interface Watcher {
  namespace: string;
  selector: [string, string];
  send(type: string, pod: V1Pod): void;
}

export interface FakeKubernetesOptions {
  runtime: ContainerRuntime;
  /** The host directory that plays the PersistentVolumeClaim `claim`. */
  claim: string;
  claimDir: string;
  /** The node's pod pids limit (kubelet podPidsLimit). */
  podPidsLimit: number;
}

const LOG_BUFFER_BYTES = 1024 * 1024;

export class FakeKubernetes {
  /** Every request: method, path with query, and the parsed body. */
  readonly requests: { method: string; path: string; body: unknown }[] = [];
  /** Bodies refused for not fitting the schema or the restricted profile (the runtime must never send one). */
  readonly refused: string[] = [];
  readonly jobs = new Map<string, FakeJob>();
  /** Pods that exist besides the Jobs' (runner pods, for the orphan sweep). */
  readonly otherPods = new Set<string>();
  private readonly watchers = new Set<Watcher>();
  private readonly running = new Set<Promise<unknown>>();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    private readonly options: FakeKubernetesOptions,
  ) {}

  static async start(options: FakeKubernetesOptions): Promise<FakeKubernetes> {
    let fake: FakeKubernetes | null = null;
    const server = http.createServer((request, response) => {
      void fake!.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) status(response, 500, 'InternalError', String(error));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    fake = new FakeKubernetes(server, `http://127.0.0.1:${port}`, options);
    return fake;
  }

  async close(): Promise<void> {
    for (const job of this.jobs.values()) job.stop.abort();
    await Promise.allSettled([...this.running]);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    this.requests.push({ method: request.method ?? '', path: url.pathname + url.search, body });
    let match: RegExpExecArray | null;
    if (request.method === 'POST' && (match = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs$/.exec(url.pathname))) return this.createJob(match[1]!, body, response);
    if (request.method === 'GET' && (match = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs$/.exec(url.pathname))) {
      const [key, value] = (url.searchParams.get('labelSelector') ?? '').split('=');
      const items = [...this.jobs.values()].map((j) => j.job).filter((job) => job.metadata?.namespace === match![1] && (!key || job.metadata?.labels?.[key] === value));
      return json(response, 200, { apiVersion: 'batch/v1', kind: 'JobList', metadata: {}, items });
    }
    if (request.method === 'GET' && (match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(url.pathname))) {
      const pod = [...this.jobs.values()].find((j) => j.pod.metadata?.name === match![2])?.pod;
      if (pod) return json(response, 200, pod);
      if (this.otherPods.has(match[2]!)) return json(response, 200, { apiVersion: 'v1', kind: 'Pod', metadata: { name: match[2], namespace: match[1] } });
      return status(response, 404, 'NotFound', `pods "${match[2]}" not found`);
    }
    if ((match = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs\/([^/]+)$/.exec(url.pathname))) {
      const job = this.jobs.get(match[2]!);
      if (!job || job.job.metadata?.namespace !== match[1]) return status(response, 404, 'NotFound', `jobs.batch "${match[2]}" not found`);
      if (request.method === 'GET') return json(response, 200, job.job);
      if (request.method === 'DELETE') {
        this.deleteJob(job);
        return json(response, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name: match[2], group: 'batch', kind: 'jobs' } });
      }
    }
    if (request.method === 'GET' && (match = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname))) return this.pods(match[1]!, url.searchParams, response);
    if (request.method === 'GET' && (match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(url.pathname))) return this.podLog(match[1]!, match[2]!, url.searchParams, response);
    status(response, 404, 'NotFound', `the fake API server has no ${request.method} ${url.pathname}`);
  }

  private createJob(namespace: string, body: unknown, response: http.ServerResponse): void {
    const problems = [...schemaProblems(body, 'V1Job'), ...restrictedProblems((body as V1Job)?.spec?.template?.spec)];
    // The API server's own copy: the request as sent stays in `requests`.
    const job = structuredClone(body) as V1Job;
    if (job?.metadata?.namespace !== undefined && job.metadata.namespace !== namespace) problems.push('metadata.namespace does not match the request path');
    if (problems.length) {
      this.refused.push(...problems);
      return status(response, 422, 'Invalid', problems.join('; '));
    }
    const name = job.metadata!.name!;
    if (this.jobs.has(name)) return status(response, 409, 'AlreadyExists', `jobs.batch "${name}" already exists`);
    job.metadata = { ...job.metadata, namespace, uid: `uid-${name}`, creationTimestamp: new Date() };
    job.status = { active: 1 };
    const labels = { ...job.spec!.template.metadata?.labels, 'job-name': name, 'batch.kubernetes.io/job-name': name };
    const pod: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${name}-${Math.random().toString(36).slice(2, 7)}`, namespace, labels },
      spec: job.spec!.template.spec,
      status: { phase: 'Pending', containerStatuses: [{ name: 'job', image: job.spec!.template.spec!.containers[0]!.image!, imageID: '', ready: false, restartCount: 0, started: false, state: { waiting: { reason: 'ContainerCreating' } } }] },
    };
    const fakeJob: FakeJob = { job, pod, stop: new AbortController(), ended: Promise.resolve(), log: [], logBytes: 0, logDone: false, wake: new Set() };
    this.jobs.set(name, fakeJob);
    json(response, 201, job);
    this.publish('ADDED', pod);
    const run = this.runPod(fakeJob);
    fakeJob.ended = run;
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Starts the pod's container through the docker runtime and reports its life as pod statuses. */
  private async runPod(fakeJob: FakeJob): Promise<void> {
    const { pod, job } = fakeJob;
    const container = pod.spec!.containers[0]!;
    const mountDir = (target: string) => {
      const mount = container.volumeMounts?.find((m) => m.mountPath === target);
      const volume = pod.spec!.volumes?.find((v) => v.name === mount?.name);
      if (!mount || volume?.persistentVolumeClaim?.claimName !== this.options.claim) throw new Error(`no ${target} mount on the claim ${this.options.claim}`);
      return path.join(this.options.claimDir, mount.subPath ?? '');
    };
    const deadlineMs = (job.spec!.activeDeadlineSeconds ?? 86_400) * 1000;
    const deadline = setTimeout(() => this.deadlineExceeded(fakeJob), deadlineMs);
    const limits = container.resources?.limits ?? {};
    try {
      const result = await this.options.runtime.run({
        image: container.image!,
        // The container's argv, run as it is (the docker runtime runs commands through /bin/sh -c).
        commands: [container.command!.map(shellQuote).join(' ')],
        workspace: mountDir('/workspace'),
        outputs: mountDir('/outputs'),
        env: Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? ''])),
        limits: { cpus: cpus(limits.cpu ?? '1'), memoryBytes: Number(limits.memory ?? 2 ** 31), pids: this.options.podPidsLimit },
        timeoutMs: deadlineMs + 60_000,
        network: pod.metadata?.labels?.['io.mlgit.egress'] !== 'none',
        signal: fakeJob.stop.signal,
        onStart: () => this.setContainer(fakeJob, 'Running', { running: { startedAt: new Date() } }),
        onOutput: (chunk) => this.appendLog(fakeJob, chunk),
      });
      if (result.outcome === 'exited' || result.outcome === 'oom') {
        const exitCode = result.outcome === 'oom' ? 137 : result.exitCode!;
        const reason = result.outcome === 'oom' ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
        this.endLog(fakeJob);
        this.setContainer(fakeJob, exitCode === 0 ? 'Succeeded' : 'Failed', { terminated: { exitCode, reason } });
        job.status = { ...job.status, active: 0, [exitCode === 0 ? 'succeeded' : 'failed']: 1 };
      }
    } catch (error) {
      const reason = error instanceof RuntimeError && /image/i.test(error.message) ? 'ImagePullBackOff' : 'CreateContainerError';
      this.setContainer(fakeJob, 'Pending', { waiting: { reason, message: error instanceof Error ? error.message : String(error) } });
    } finally {
      clearTimeout(deadline);
      this.endLog(fakeJob);
    }
  }

  /** What the Job controller does at activeDeadlineSeconds: kill the pod, delete it, mark the Job failed. */
  private deadlineExceeded(fakeJob: FakeJob): void {
    fakeJob.job.status = { ...fakeJob.job.status, active: 0, failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }] };
    fakeJob.stop.abort();
    this.endLog(fakeJob);
    void fakeJob.ended.then(() => this.publish('DELETED', fakeJob.pod));
  }

  private deleteJob(fakeJob: FakeJob): void {
    fakeJob.stop.abort();
    this.endLog(fakeJob);
    this.jobs.delete(fakeJob.job.metadata!.name!);
    void fakeJob.ended.then(() => this.publish('DELETED', fakeJob.pod));
  }

  private setContainer(fakeJob: FakeJob, phase: string, state: NonNullable<NonNullable<V1Pod['status']>['containerStatuses']>[number]['state']): void {
    const current = fakeJob.pod.status!.containerStatuses![0]!;
    fakeJob.pod.status = { ...fakeJob.pod.status, phase, containerStatuses: [{ ...current, state, started: phase === 'Running', ready: phase === 'Running' }] };
    this.publish('MODIFIED', fakeJob.pod);
  }

  private async appendLog(fakeJob: FakeJob, chunk: Buffer): Promise<void> {
    fakeJob.log.push(chunk);
    fakeJob.logBytes += chunk.length;
    this.wakeAll(fakeJob);
    // Backpressure: the container waits while a megabyte is unread (a kubelet writes to disk instead).
    while (fakeJob.logBytes > LOG_BUFFER_BYTES && !fakeJob.stop.signal.aborted) await new Promise<void>((resolve) => fakeJob.wake.add(resolve));
  }

  private endLog(fakeJob: FakeJob): void {
    fakeJob.logDone = true;
    this.wakeAll(fakeJob);
  }

  private wakeAll(fakeJob: FakeJob): void {
    const waiting = [...fakeJob.wake];
    fakeJob.wake.clear();
    for (const wake of waiting) wake();
  }

  private pods(namespace: string, query: URLSearchParams, response: http.ServerResponse): void {
    const [key, value] = (query.get('labelSelector') ?? '').split('=');
    if (!key || value === undefined) return status(response, 400, 'BadRequest', 'the fake API server needs labelSelector=key=value');
    const selector: [string, string] = [key, value];
    const matching = [...this.jobs.values()].map((j) => j.pod).filter((pod) => pod.metadata?.namespace === namespace && pod.metadata?.labels?.[key] === value);
    if (query.get('watch') !== 'true') return json(response, 200, { apiVersion: 'v1', kind: 'PodList', metadata: {}, items: matching });
    response.writeHead(200, { 'content-type': 'application/json' });
    const watcher: Watcher = { namespace, selector, send: (type, pod) => response.write(`${JSON.stringify({ type, object: pod })}\n`) };
    for (const pod of matching) watcher.send('ADDED', pod);
    this.watchers.add(watcher);
    response.on('close', () => this.watchers.delete(watcher));
  }

  private publish(type: string, pod: V1Pod): void {
    for (const watcher of this.watchers) {
      if (pod.metadata?.namespace === watcher.namespace && pod.metadata?.labels?.[watcher.selector[0]] === watcher.selector[1]) watcher.send(type, structuredClone(pod));
    }
  }

  private async podLog(namespace: string, podName: string, query: URLSearchParams, response: http.ServerResponse): Promise<void> {
    const fakeJob = [...this.jobs.values()].find((j) => j.pod.metadata?.name === podName && j.pod.metadata?.namespace === namespace);
    if (!fakeJob) return status(response, 404, 'NotFound', `pods "${podName}" not found`);
    if (query.get('container') !== 'job') return status(response, 400, 'BadRequest', `container ${query.get('container')} is not valid for pod ${podName}`);
    const follow = query.get('follow') === 'true';
    response.writeHead(200, { 'content-type': 'text/plain' });
    let closed = false;
    response.on('close', () => (closed = true));
    for (;;) {
      while (fakeJob.log.length && !closed) {
        const chunk = fakeJob.log.shift()!;
        fakeJob.logBytes -= chunk.length;
        this.wakeAll(fakeJob);
        if (!response.write(chunk)) await new Promise((resolve) => response.once('drain', resolve).once('close', resolve));
      }
      if (closed || fakeJob.logDone || !follow) break;
      await new Promise<void>((resolve) => fakeJob.wake.add(resolve));
    }
    response.end();
  }
}

/** Pod Security Standard "restricted" (kubernetes.io/docs/concepts/security/pod-security-standards), the checks admission makes. */
export function restrictedProblems(pod: V1PodSpec | undefined): string[] {
  if (!pod) return ['the pod spec is required'];
  const problems: string[] = [];
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push('host namespaces are forbidden');
  if (pod.volumes?.some((v) => v.hostPath)) problems.push('hostPath volumes are forbidden');
  for (const c of pod.containers ?? []) {
    const sc = c.securityContext ?? {};
    if (sc.privileged) problems.push(`container ${c.name}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`container ${c.name}: allowPrivilegeEscalation must be false`);
    if (!sc.capabilities?.drop?.includes('ALL')) problems.push(`container ${c.name}: capabilities must drop ALL`);
    if ((sc.capabilities?.add ?? []).some((cap) => cap !== 'NET_BIND_SERVICE')) problems.push(`container ${c.name}: capabilities may only add NET_BIND_SERVICE`);
    if (sc.runAsNonRoot !== true && pod.securityContext?.runAsNonRoot !== true) problems.push(`container ${c.name}: runAsNonRoot must be true`);
    if (sc.runAsUser === 0 || pod.securityContext?.runAsUser === 0) problems.push(`container ${c.name}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problems.push(`container ${c.name}: seccompProfile must be RuntimeDefault or Localhost`);
  }
  return problems;
}

/** A Kubernetes CPU quantity ("1", "0.5", "250m") in CPUs. */
function cpus(quantity: string): number {
  return quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

function json(response: http.ServerResponse, code: number, body: unknown): void {
  response.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function status(response: http.ServerResponse, code: number, reason: string, message: string): void {
  json(response, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}
