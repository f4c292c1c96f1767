// MLGIT_RUNTIME=kubernetes as createRuntime() hands it out: @kubernetes/client-node and the
// cluster configuration are loaded on the first run, so a server or runner that never runs a
// job this way never carries the library.
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
    this.loaded ??= load(this.settings);
    return (await this.loaded).run(spec);
  }

  async close(): Promise<void> {
    if (this.loaded) await (await this.loaded).close();
  }
}

async function load(settings: KubernetesSettings): Promise<ContainerRuntime> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { KubernetesRuntime } = await import('./kubernetes.ts');
  const kubeConfig = new KubeConfig();
  // KUBECONFIG, then ~/.kube/config, then the pod's service account.
  kubeConfig.loadFromDefault();
  const namespace = settings.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default';
  return new KubernetesRuntime({ ...settings, namespace, kubeConfig });
}
