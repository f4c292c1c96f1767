import type { JobSpec } from '../../schema/runner-protocol.ts';
import { RuntimeError, type ContainerRuntime, type RuntimeLimits } from './types.ts';

/**
 * The runtime limits of a job. GPUs only the kubernetes runtime can grant (nvidia.com/gpu): on
 * another a job that asks for them fails as an infrastructure error rather than run without.
 */
export function runtimeLimits(resources: JobSpec['resources'], runtime: Pick<ContainerRuntime, 'name'>): RuntimeLimits {
  const limits: RuntimeLimits = { cpus: resources.cpus, memoryBytes: resources.memoryBytes, pids: resources.pids };
  if (!resources.gpus) return limits;
  if (runtime.name !== 'kubernetes') throw new RuntimeError(`this job asks for ${resources.gpus} GPU(s) (resources.gpu) and the ${runtime.name} runtime cannot grant GPUs: run it on a runner with MLGIT_RUNTIME=kubernetes`);
  return { ...limits, gpus: resources.gpus };
}
