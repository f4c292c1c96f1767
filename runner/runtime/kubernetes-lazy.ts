// MLGIT_RUNTIME=kubernetes as createRuntime() hands it out: @kubernetes/client-node and the
// cluster configuration are loaded on the first run, so a server or runner that never runs a
// job this way never carries the library.
import { randomBytes } from 'node:crypto';
import type { ContainerRuntime, RunResult, RunSpec } from './types.ts';

export interface KubernetesSettings {
  /** null: the namespace of the kubeconfig context (in a pod: the service account's), else `default`. */
  readonly namespace: string | null;
  readonly workClaim: string;
  readonly workRoot: string;
  readonly ttlSeconds: number;
}

export class LazyKubernetesRuntime implements ContainerRuntime {
  readonly name = 'kubernetes';
  readonly warnings: readonly string[] = [];
  private loaded: Promise<ContainerRuntime> | null = null;

  constructor(private readonly settings: KubernetesSettings) {}

  async run(spec: RunSpec): Promise<RunResult> {
    return (await this.runtime()).run(spec);
  }

  async sweepOrphans(): Promise<string[]> {
    return (await (await this.runtime()).sweepOrphans?.()) ?? [];
  }

  private runtime(): Promise<ContainerRuntime> {
    this.loaded ??= load(this.settings);
    return this.loaded;
  }

  async close(): Promise<void> {
    if (this.loaded) await (await this.loaded).close();
  }
}

/** A Kubernetes label value (a pod name longer than this cannot be one: no sweeping then). */
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

async function load(settings: KubernetesSettings): Promise<ContainerRuntime> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { KubernetesRuntime } = await import('./kubernetes.ts');
  const kubeConfig = new KubeConfig();
  // KUBECONFIG, then ~/.kube/config, then the pod's service account.
  kubeConfig.loadFromDefault();
  const namespace = settings.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default';
  // In a pod, HOSTNAME is the pod's name: its Jobs carry it, and a restarted or replaced runner sweeps them.
  const hostname = process.env.KUBERNETES_SERVICE_HOST ? (process.env.HOSTNAME ?? '') : '';
  const pod = LABEL_VALUE.test(hostname) ? hostname : null;
  const owner = pod ? { pod, instance: randomBytes(6).toString('hex') } : null;
  return new KubernetesRuntime({ ...settings, namespace, kubeConfig, owner });
}
