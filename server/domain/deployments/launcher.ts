// The port through which deployments start model servers. One adapter
// (server/adapters/serving/runtime-launcher.ts) runs them with the runner's ContainerRuntime: in a
// bubblewrap/unshare sandbox or a container, with no network, the model file read-only.
import type { ModelVersion } from '../registry/model.ts';
import type { Deployment } from './model.ts';

export interface LaunchRequest {
  readonly deployment: Deployment;
  readonly version: ModelVersion;
  /** The model server's output (stdout and stderr), for the deployment's log. */
  onOutput(chunk: Buffer): Promise<void>;
}

export interface ModelServer {
  readonly version: number;
  /** Host path of the unix socket the model server listens on; mlgit proxies HTTP to it. */
  readonly socketPath: string;
  /** Resolves once the health check answers 200; rejects saying why (exited first, or not ready in time). */
  readonly ready: Promise<void>;
  /** Whether the health path answers 200 now (within a couple of seconds). */
  probe(): Promise<boolean>;
  /** Resolves when the process has ended, whoever ended it, with how it ended. */
  readonly exited: Promise<string>;
  /** Stops it (SIGTERM, then SIGKILL) and removes its files; resolves once it is gone. */
  stop(): Promise<void>;
}

export interface ModelServerLauncher {
  launch(request: LaunchRequest): Promise<ModelServer>;
  close(): Promise<void>;
}
