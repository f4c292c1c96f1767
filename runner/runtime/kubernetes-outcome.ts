// What a job pod's status says about the run (runner/runtime/kubernetes.ts): still starting,
// running, or finished with an outcome; infrastructure failures become RuntimeErrors.
import type { V1Pod } from '@kubernetes/client-node';
import { CONTAINER } from './kubernetes-job.ts';
import { RuntimeError, type Outcome } from './types.ts';

export type PodProgress = { state: 'pending' } | { state: 'running' } | { state: 'done'; outcome: Outcome; exitCode: number | null };

/** Waiting reasons that will not fix themselves: the image cannot be had. */
const IMAGE_PROBLEMS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
/** Waiting reasons of a pod that cannot start for other lasting causes. */
const START_PROBLEMS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

export function podProgress(pod: V1Pod, image: string): PodProgress {
  const status = pod.status ?? {};
  const container = status.containerStatuses?.find((c) => c.name === CONTAINER);
  const waiting = container?.state?.waiting?.reason;
  if (waiting && IMAGE_PROBLEMS.has(waiting)) {
    throw new RuntimeError(
      `the cluster cannot pull the job image ${image} (${waiting}: ${container?.state?.waiting?.message ?? 'no detail'}). ` +
        'Push it to a registry the nodes can pull from (for localhost/mlgit-python:bookworm, scripts/podman-setup.sh builds it), or choose another image in mlproject.yaml',
    );
  }
  if (waiting && START_PROBLEMS.has(waiting)) throw new RuntimeError(`the job container could not start (${waiting}: ${container?.state?.waiting?.message ?? 'no detail'})`);
  // The Job's activeDeadlineSeconds: the pod is killed with this reason.
  if (status.reason === 'DeadlineExceeded') return { state: 'done', outcome: 'timeout', exitCode: null };
  if (status.reason === 'Evicted') throw new RuntimeError(`the job pod was evicted by its node: ${status.message ?? 'no detail'}`);
  const terminated = container?.state?.terminated;
  if (terminated) {
    if (terminated.reason === 'OOMKilled') return { state: 'done', outcome: 'oom', exitCode: 137 };
    return { state: 'done', outcome: 'exited', exitCode: terminated.exitCode };
  }
  if (status.phase === 'Failed' || status.phase === 'Succeeded') throw new RuntimeError(`the job pod ended (${status.phase}) without a container status: ${status.reason ?? ''} ${status.message ?? ''}`.trim());
  return container?.state?.running ? { state: 'running' } : { state: 'pending' };
}
