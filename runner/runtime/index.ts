import { DockerRuntime } from './docker.ts';
import { LazyKubernetesRuntime, type KubernetesSettings } from './kubernetes-lazy.ts';
import { ProcessRuntime } from './process.ts';
import { chooseSandbox, noSandboxMessage } from './sandbox/select.ts';
import type { ContainerRuntime } from './types.ts';

export type { ContainerRuntime, Outcome, RunResult, RunSpec, RuntimeLimits } from './types.ts';
export { RuntimeError } from './types.ts';

export interface RuntimeConfig {
  kind: 'docker' | 'process' | 'kubernetes';
  /** Docker Engine API socket for kind 'docker'; default /var/run/docker.sock. */
  dockerSocket?: string;
  /** Process runtime only: run jobs without any sandbox (MLGIT_UNSAFE_NO_SANDBOX). */
  unsafeNoSandbox?: boolean;
  /** Docker only: the image of deployments' port relays (default the job image). */
  relayImage?: string;
  /** Required for kind 'kubernetes'. */
  kubernetes?: KubernetesSettings | null;
}

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export function createRuntime(config: RuntimeConfig): ContainerRuntime {
  if (config.kind === 'kubernetes') {
    if (!config.kubernetes) throw new TypeError('the kubernetes runtime needs its settings (namespace, work claim, work root)');
    return new LazyKubernetesRuntime(config.kubernetes);
  }
  return config.kind === 'docker'
    ? new DockerRuntime({ socketPath: config.dockerSocket ?? DEFAULT_DOCKER_SOCKET, relayImage: config.relayImage })
    : new ProcessRuntime({ unsafeNoSandbox: config.unsafeNoSandbox ?? false });
}

export interface SandboxReport {
  /** false: jobs cannot run here, or run without isolation. */
  ok: boolean;
  /** One line for the start-up log and `mlgit doctor`. */
  summary: string;
}

/** How jobs of this configuration are isolated on this machine (the probes are shared with the runtime). */
export function describeSandbox(config: RuntimeConfig): SandboxReport {
  if (config.kind === 'docker') return { ok: true, summary: `jobs run in containers (Docker Engine API at ${config.dockerSocket ?? DEFAULT_DOCKER_SOCKET})` };
  if (config.kind === 'kubernetes') return { ok: true, summary: `jobs run as Kubernetes Jobs (namespace ${config.kubernetes?.namespace ?? 'of the kubeconfig context'}, work claim ${config.kubernetes?.workClaim})` };
  if (config.unsafeNoSandbox) {
    return { ok: false, summary: 'MLGIT_UNSAFE_NO_SANDBOX is set: jobs run WITHOUT a sandbox, as the runner\'s user, able to read its files and reach local services' };
  }
  const { sandbox, problems } = chooseSandbox('auto');
  if (sandbox) return { ok: true, summary: `jobs run in the ${sandbox.label} sandbox${problems.length ? ` (${problems.join('; ')})` : ''}` };
  return { ok: false, summary: noSandboxMessage(problems) };
}
