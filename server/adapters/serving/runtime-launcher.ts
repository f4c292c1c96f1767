// Starts model servers through the runner's ContainerRuntime port, as jobs run: in the process
// runtime's bubblewrap/unshare sandbox or a container, never with network. The model file is
// bound read-only at /model; the server listens on a unix socket in /outputs, a directory the
// sandbox shares with mlgit, which proxies HTTP to it, or on a TCP port in its own network
// namespace, which the runtime's relay bridges to that socket (README, Decisions: "Deployments").
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { ContainerRuntime, RunResult } from '../../../runner/runtime/types.ts';
import type { ObjectStore } from '../../domain/ports.ts';
import type { LaunchRequest, ModelServer, ModelServerLauncher } from '../../domain/deployments/launcher.ts';
import { exportCommit, modelDirectory } from './model-files.ts';

export interface RuntimeLauncherOptions {
  /** Called on the first launch: a server with no deployments never loads a container client (dockerode is ~25 MB). */
  runtime: () => ContainerRuntime;
  /** Working directories of deployments (the data dir's deployments/). */
  root: string;
  /** The bare repository of a repo id. */
  gitDir(repoId: number): string;
  store: ObjectStore;
  pids: number;
  /** How long a model server may take to answer its health check after it started. */
  startTimeoutMs: number;
}

/** Where the model server sees its socket and its model (the same in sandboxes and containers). */
const SOCKET_IN_SANDBOX = '/outputs/m.sock';
const MODEL_MOUNT = '/model';
/** A deployment runs until stopped; the runtime wants a deadline, so it gets setTimeout's longest (~24.8 days), after which it restarts. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;
/** sun_path holds 108 bytes: longer socket paths cannot be connected to. */
const MAX_SOCKET_PATH = 100;

export class RuntimeLauncher implements ModelServerLauncher {
  private runtime: ContainerRuntime | null = null;

  constructor(private readonly options: RuntimeLauncherOptions) {}

  async launch({ deployment, version, onOutput }: LaunchRequest): Promise<ModelServer> {
    const { root } = this.options;
    this.runtime ??= this.options.runtime();
    const runtime = this.runtime;
    const model = await modelDirectory(root, this.options.store, version);
    const dir = await replicaDirectory(root, deployment.id);
    const workspace = path.join(dir, 'w');
    const outputs = path.join(dir, 's');
    try {
      await fs.mkdir(outputs, { recursive: true });
      await exportCommit(this.options.gitDir(deployment.repoId), version.commitSha, workspace);
    } catch (error) {
      await fs.rm(dir, { recursive: true, force: true });
      throw error;
    }
    const socketPath = path.join(outputs, path.posix.basename(SOCKET_IN_SANDBOX));
    const abort = new AbortController();
    const finished = runtime.run({
      image: deployment.image,
      commands: deployment.command === null ? [] : [deployment.command],
      workspace,
      outputs,
      env: {
        ...deployment.env,
        MLGIT_SERVE_SOCKET: SOCKET_IN_SANDBOX,
        MLP_MODEL_PATH: `${MODEL_MOUNT}/${model.file}`,
        MLP_MODEL_NAME: deployment.model,
        MLP_MODEL_VERSION: String(version.version),
      },
      limits: { cpus: deployment.cpus, memoryBytes: deployment.memoryBytes, pids: this.options.pids },
      timeoutMs: LONGEST_TIMER_MS,
      network: false,
      signal: abort.signal,
      onOutput,
      readOnlyMounts: [{ source: model.dir, target: MODEL_MOUNT }],
      ...(deployment.port === null ? {} : { relay: { port: deployment.port, socket: SOCKET_IN_SANDBOX } }),
    });
    const exited = finished.then(describe, (error: unknown) => `could not start: ${error instanceof Error ? error.message : String(error)}`);
    const ready = healthy(socketPath, deployment.healthPath, exited, this.options.startTimeoutMs);
    ready.catch(() => {});
    return {
      version: version.version,
      socketPath,
      ready,
      exited,
      probe: async () => (await probe(socketPath, deployment.healthPath)) === 200,
      stop: async () => {
        abort.abort();
        await exited;
        await fs.rm(dir, { recursive: true, force: true });
      },
    };
  }

  async close(): Promise<void> {
    await this.runtime?.close();
  }
}

/** A fresh directory per replica, short enough for its socket path; under the system's temp dir when the data dir's path is too long. */
async function replicaDirectory(root: string, deploymentId: number): Promise<string> {
  const name = `${deploymentId}.${randomBytes(4).toString('hex')}`;
  const preferred = path.join(root, name);
  if (`${preferred}/s/m.sock`.length <= MAX_SOCKET_PATH) {
    await fs.mkdir(preferred, { recursive: true });
    return preferred;
  }
  return fs.mkdtemp(path.join(os.tmpdir(), `mlgit-serve-${name}-`));
}

function describe(result: RunResult): string {
  switch (result.outcome) {
    case 'exited':
      return `exit code ${result.exitCode}`;
    case 'oom':
      return 'killed: out of memory';
    case 'timeout':
      return 'ran past the longest time a runtime allows';
    case 'cancelled':
      return 'stopped by mlgit';
  }
}

/** Polls the health path over the socket until it answers 200; rejects when the server exits first or takes too long. */
async function healthy(socketPath: string, healthPath: string, exited: Promise<string>, timeoutMs: number): Promise<void> {
  let gone: string | null = null;
  void exited.then((how) => (gone = how));
  const deadline = Date.now() + timeoutMs;
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    if (gone !== null) throw new Error(`the model server exited before it was ready (${gone})`);
    if (Date.now() > deadline) throw new Error(`no 200 from ${healthPath} within ${Math.round(timeoutMs / 1000)} s`);
    if ((await probe(socketPath, healthPath)) === 200) return;
    await Promise.race([new Promise((resolve) => setTimeout(resolve, delay)), exited]);
  }
}

function probe(socketPath: string, healthPath: string): Promise<number | null> {
  return new Promise((resolve) => {
    const request = http.get({ socketPath, path: healthPath, timeout: 2000, agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? null);
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(null));
  });
}
