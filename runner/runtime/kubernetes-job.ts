// The Kubernetes Job of one run attempt (runner/runtime/kubernetes.ts creates it): pure, so the
// manifest is checked on its own (test/kubernetes-runtime.test.ts validates it against the API
// schema of the client library's version).
import type { V1Job } from '@kubernetes/client-node';
import path from 'node:path';
import { jobArgv, jobEnv } from './job-spec.ts';
import type { JobUser } from './job-user.ts';
import type { RunSpec } from './types.ts';

export const WORKSPACE = '/workspace';
export const OUTPUTS = '/outputs';
export const CONTAINER = 'job';
/** Set on every Job and pod mlgit creates: what it may delete, and what orphan sweeps find. */
export const MANAGED_LABEL = 'io.mlgit.job';
/**
 * `none` on jobs without network: a NetworkPolicy selecting this label and allowing no egress
 * (docker/helm/templates/networkpolicy.yaml) cuts them off, as the docker runtime's network=none does.
 */
export const EGRESS_LABEL = 'io.mlgit.egress';
const GPU_RESOURCE = 'nvidia.com/gpu';
/** The runner pod that created a Job, and which start of its container (kubernetes-orphans.ts). */
export const OWNER_POD_LABEL = 'io.mlgit.runner-pod';
export const OWNER_INSTANCE_LABEL = 'io.mlgit.runner-instance';

/** Who creates the Jobs: set when the runner runs in a pod of the same cluster, else null (no sweeping). */
export interface JobOwner {
  readonly pod: string;
  readonly instance: string;
}

export interface JobSite {
  readonly namespace: string;
  /** The PersistentVolumeClaim that holds the runner's work dir, shared with the job pods. */
  readonly workClaim: string;
  /** Where that claim is mounted in the runner: workspaces and outputs must lie below it. */
  readonly workRoot: string;
  /** Seconds a finished Job is kept (ttlSecondsAfterFinished) in case the runner could not delete it. */
  readonly ttlSeconds: number;
}

/** The path of `dir` inside the work claim, or a TypeError when it is not below the work root. */
export function claimSubPath(site: JobSite, what: string, dir: string): string {
  const relative = path.relative(site.workRoot, dir);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new TypeError(`invalid run spec: ${what} ${JSON.stringify(dir)} is not below the Kubernetes work root ${site.workRoot} (MLGIT_RUNNER_WORK_DIR on the claim ${site.workClaim})`);
  }
  return relative;
}

/** CPUs as a Kubernetes quantity in millicores (at least 1m). */
export function cpuQuantity(cpus: number): string {
  return `${Math.max(1, Math.round(cpus * 1000))}m`;
}

export function buildJob(name: string, spec: RunSpec, site: JobSite, user: JobUser, owner: JobOwner | null = null): V1Job {
  const labels: Record<string, string> = { [MANAGED_LABEL]: name, [EGRESS_LABEL]: spec.network ? 'allowed' : 'none', 'app.kubernetes.io/managed-by': 'mlgit' };
  if (owner) Object.assign(labels, { [OWNER_POD_LABEL]: owner.pod, [OWNER_INSTANCE_LABEL]: owner.instance });
  const resources: Record<string, string> = { cpu: cpuQuantity(spec.limits.cpus), memory: String(spec.limits.memoryBytes) };
  if (spec.limits.gpus) resources[GPU_RESOURCE] = String(spec.limits.gpus);
  const env = jobEnv(spec, { home: '/tmp', outputDir: OUTPUTS });
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: site.namespace, labels },
    spec: {
      // One attempt: retries are the run queue's business (a new attempt, a new Job).
      backoffLimit: 0,
      activeDeadlineSeconds: Math.max(1, Math.ceil(spec.timeoutMs / 1000)),
      ttlSecondsAfterFinished: site.ttlSeconds,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          // Jobs talk to nobody: no API token, no service variables.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: user.uid, runAsGroup: user.gid, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: CONTAINER,
              image: spec.image,
              command: jobArgv(spec.commands),
              workingDir: WORKSPACE,
              env: Object.entries(env).map(([envName, value]) => ({ name: envName, value })),
              resources: { requests: resources, limits: resources },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, privileged: false, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'work', mountPath: WORKSPACE, subPath: claimSubPath(site, 'workspace', spec.workspace) },
                { name: 'work', mountPath: OUTPUTS, subPath: claimSubPath(site, 'outputs', spec.outputs) },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'work', persistentVolumeClaim: { claimName: site.workClaim } },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  };
}
