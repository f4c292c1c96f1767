// Which Jobs a runner that died left behind (KubernetesRuntime.sweepOrphans): a Job is an orphan
// when its runner pod no longer exists, or when it is this runner's pod but an earlier container
// (the runner restarted in place). Jobs of live peers, and Jobs without an owner, are kept.
import type { V1Job } from '@kubernetes/client-node';
import { OWNER_INSTANCE_LABEL, OWNER_POD_LABEL, type JobOwner } from './kubernetes-job.ts';

export async function orphanedJobs(jobs: readonly V1Job[], self: JobOwner, podExists: (pod: string) => Promise<boolean>): Promise<string[]> {
  const alive = new Map<string, boolean>([[self.pod, true]]);
  const orphans: string[] = [];
  for (const job of jobs) {
    const labels = job.metadata?.labels ?? {};
    const pod = labels[OWNER_POD_LABEL];
    const name = job.metadata?.name;
    if (!pod || !name) continue;
    if (pod === self.pod) {
      if (labels[OWNER_INSTANCE_LABEL] !== self.instance) orphans.push(name);
      continue;
    }
    if (!alive.has(pod)) alive.set(pod, await podExists(pod));
    if (!alive.get(pod)) orphans.push(name);
  }
  return orphans;
}
