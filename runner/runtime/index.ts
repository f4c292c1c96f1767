import { DockerRuntime } from './docker.ts';
import { ProcessRuntime } from './process.ts';
import type { ContainerRuntime } from './types.ts';

export type { ContainerRuntime, Outcome, RunResult, RunSpec, RuntimeLimits } from './types.ts';
export { RuntimeError } from './types.ts';

export interface RuntimeConfig {
  kind: 'docker' | 'process';
  /** Docker Engine API socket for kind 'docker'; default /var/run/docker.sock. */
  dockerSocket?: string;
}

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export function createRuntime(config: RuntimeConfig): ContainerRuntime {
  return config.kind === 'docker'
    ? new DockerRuntime({ socketPath: config.dockerSocket ?? DEFAULT_DOCKER_SOCKET })
    : new ProcessRuntime();
}
