// The Kubernetes runtime (MLGIT_RUNTIME=kubernetes): one Job per run attempt, created in the
// runner's namespace with @kubernetes/client-node. The pod runs the job's commands as the
// docker runtime's container does (same argv, environment, mounts at /workspace and /outputs,
// read-only root, /tmp scratch, no capabilities), its log is streamed with backpressure, its
// status is mapped to an outcome, and the Job is deleted when the run ends or is cancelled.
// The workspace reaches the pod through a PersistentVolumeClaim the runner shares with it.
import { BatchV1Api, CoreV1Api, KubeConfig, Log, Watch, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { checkSpec } from './job-spec.ts';
import { handOver, jobUser } from './job-user.ts';
import { buildJob, CONTAINER, MANAGED_LABEL, type JobOwner, type JobSite } from './kubernetes-job.ts';
import { orphanedJobs } from './kubernetes-orphans.ts';
import { podProgress, type PodProgress } from './kubernetes-outcome.ts';
import { RuntimeError, type ContainerRuntime, type RunResult, type RunSpec } from './types.ts';

export interface KubernetesRuntimeOptions extends JobSite {
  /** In a pod: the in-cluster config (service account); elsewhere the kubeconfig file. */
  readonly kubeConfig: KubeConfig;
  /** The runner's pod, when it runs in the cluster: its Jobs are labelled with it and sweepOrphans works. */
  readonly owner?: JobOwner | null;
}

/** After the Job's own deadline, how long the runner waits for the cluster to enforce it before it deletes the Job itself. */
const DEADLINE_GRACE_MS = 30_000;
/** How long a finished pod's log may take to reach its end. */
const LOG_DRAIN_MS = 10_000;

export class KubernetesRuntime implements ContainerRuntime {
  readonly name = 'kubernetes';
  readonly warnings: readonly string[] = [];
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly watcher: Watch;
  private readonly logs: Log;

  constructor(private readonly options: KubernetesRuntimeOptions) {
    this.batch = options.kubeConfig.makeApiClient(BatchV1Api);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.watcher = new Watch(options.kubeConfig);
    this.logs = new Log(options.kubeConfig);
  }

  async run(spec: RunSpec): Promise<RunResult> {
    checkSpec(spec);
    if (spec.relay || spec.commands.length === 0) throw new RuntimeError('the kubernetes runtime does not run deployments: they need the docker or process runtime');
    if (spec.readOnlyMounts?.length) throw new RuntimeError('the kubernetes runtime cannot bind host directories into job pods: deployments need the docker or process runtime');
    if (spec.signal.aborted) return { outcome: 'cancelled', exitCode: null, durationMs: 0 };
    const user = jobUser();
    const name = `mlgit-job-${randomBytes(6).toString('hex')}`;
    // First: it refuses a workspace the pod could not see (outside the work claim).
    const job = buildJob(name, spec, this.options, user, this.options.owner ?? null);
    await handOver([spec.workspace, spec.outputs], user);
    const started = Date.now();
    await this.batch.createNamespacedJob({ namespace: this.options.namespace, body: job }).catch((error: unknown) => {
      throw new RuntimeError(`could not create the Kubernetes Job in namespace ${this.options.namespace}: ${describe(error)}`, { cause: error });
    });
    try {
      const { outcome, exitCode } = await this.follow(name, spec);
      return { outcome, exitCode, durationMs: Date.now() - started };
    } finally {
      await this.remove(name);
    }
  }

  async close(): Promise<void> {}

  /**
   * Deletes the Jobs of runners that died: those whose runner pod is gone, and those an earlier
   * container of this runner's own pod started. Only a runner that knows its pod sweeps.
   */
  async sweepOrphans(): Promise<string[]> {
    const { owner, namespace } = this.options;
    if (!owner) return [];
    const jobs = await this.batch.listNamespacedJob({ namespace, labelSelector: 'app.kubernetes.io/managed-by=mlgit' });
    const orphans = await orphanedJobs(jobs.items, owner, async (pod) => {
      try {
        await this.core.readNamespacedPod({ name: pod, namespace });
        return true;
      } catch (error) {
        if ((error as { code?: number }).code === 404) return false;
        throw error;
      }
    });
    for (const name of orphans) await this.remove(name);
    return orphans;
  }

  /** Watches the Job's pod and streams its log until the run has an outcome. */
  private follow(name: string, spec: RunSpec): Promise<{ outcome: RunResult['outcome']; exitCode: number | null }> {
    const { namespace } = this.options;
    return new Promise((resolve, reject) => {
      let settled = false;
      let logStarted = false;
      let logEnded = false;
      let finished: Extract<PodProgress, { state: 'done' }> | null = null;
      let drainTimer: NodeJS.Timeout | undefined;
      const aborts: AbortController[] = [];
      const settle = (action: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        clearTimeout(drainTimer);
        spec.signal.removeEventListener('abort', onAbort);
        for (const controller of aborts) controller.abort();
        action();
      };
      const fail = (error: unknown) => settle(() => reject(error instanceof RuntimeError ? error : new RuntimeError(`lost track of the Kubernetes Job ${name}: ${describe(error)}`, { cause: error })));
      const finishWhenDrained = () => {
        if (finished && logEnded) settle(() => resolve(finished!));
      };
      const onAbort = () => settle(() => resolve({ outcome: 'cancelled', exitCode: null }));
      spec.signal.addEventListener('abort', onAbort, { once: true });
      // The Job's activeDeadlineSeconds is the timeout; this only covers a cluster that does not enforce it.
      const deadline = setTimeout(() => settle(() => resolve({ outcome: 'timeout', exitCode: null })), spec.timeoutMs + DEADLINE_GRACE_MS);

      const streamLog = (pod: V1Pod) => {
        logStarted = true;
        spec.onStart?.();
        const sink = new Writable({
          write: (chunk: Buffer, _encoding, done) => void spec.onOutput(chunk).then(() => done(), done),
        });
        sink.on('finish', () => {
          logEnded = true;
          finishWhenDrained();
        });
        sink.on('error', fail);
        this.logs.log(namespace, pod.metadata!.name!, CONTAINER, sink, { follow: true }).then((controller) => aborts.push(controller), fail);
      };
      const onPod = (type: string, pod: V1Pod) => {
        if (settled) return;
        if (type === 'DELETED') {
          // The Job controller deletes the pod when the Job's deadline passes; we never delete it while following.
          void this.jobEnd(name).then((ended) => (ended === 'DeadlineExceeded' ? settle(() => resolve({ outcome: 'timeout', exitCode: null })) : fail(new RuntimeError(`the job pod ${pod.metadata?.name} was deleted (${ended ?? 'by someone else'})`))), fail);
          return;
        }
        let progress: PodProgress;
        try {
          progress = podProgress(pod, spec.image);
        } catch (error) {
          fail(error);
          return;
        }
        if (progress.state === 'pending') return;
        if (!logStarted) streamLog(pod);
        if (progress.state === 'done' && !finished) {
          finished = progress;
          if (progress.outcome === 'timeout') logEnded = true;
          drainTimer = setTimeout(() => {
            logEnded = true;
            finishWhenDrained();
          }, LOG_DRAIN_MS);
          finishWhenDrained();
        }
      };
      const watch = () => {
        this.watcher
          .watch(`/api/v1/namespaces/${namespace}/pods`, { labelSelector: `${MANAGED_LABEL}=${name}` }, (type, pod: V1Pod) => onPod(type, pod), (error: unknown) => {
            // API servers end watches now and then: watch again until the run is settled.
            if (settled) return;
            if (error) fail(error);
            else watch();
          })
          .then((controller) => aborts.push(controller), fail);
      };
      watch();
    });
  }

  /** Why the Job ended, from its conditions (DeadlineExceeded, BackoffLimitExceeded...), or null. */
  private async jobEnd(name: string): Promise<string | null> {
    const job: V1Job = await this.batch.readNamespacedJob({ name, namespace: this.options.namespace });
    return job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True')?.reason ?? null;
  }

  /** Deletes the Job and, in the background, its pod; a Job already gone is fine. */
  private async remove(name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ name, namespace: this.options.namespace, propagationPolicy: 'Background', gracePeriodSeconds: 0 });
    } catch (error) {
      if ((error as { code?: number }).code !== 404) throw new RuntimeError(`could not delete the Kubernetes Job ${name}: ${describe(error)}`, { cause: error });
    }
  }
}

function describe(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  const message = error instanceof Error ? error.message : String(error);
  return typeof body === 'string' && body ? `${message}: ${body.slice(0, 500)}` : message;
}
