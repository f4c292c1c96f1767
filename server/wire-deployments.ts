// Part of the composition root (server/app.ts): model deployments and the serving proxy. The
// supervisor runs in the server process, beside the proxy that needs its unix sockets, and starts
// model servers through the runner's ContainerRuntime (README, Decisions: "Deployments").
import type { FastifyInstance } from 'fastify';
import path from 'node:path';
import { createRuntime } from '../runner/runtime/index.ts';
import { FileLogStore } from './adapters/logs/file-log-store.ts';
import { RuntimeLauncher } from './adapters/serving/runtime-launcher.ts';
import type { Config } from './config.ts';
import type { Db } from './db/connect.ts';
import { DeploymentService, type DeploymentView } from './domain/deployments/service.ts';
import type { GitBackend, JobQueue, ObjectStore } from './domain/ports.ts';
import type { ModelVersions } from './domain/registry/versions.ts';
import type { RepoService } from './domain/repos.ts';
import type { WebhookService } from './domain/webhooks.ts';
import type { Authenticate } from './http/authenticate.ts';
import { registerDeploymentRoutes } from './http/api/deployment-routes.ts';
import { registerServeRoutes } from './http/serve/serve-routes.ts';

interface Deps {
  config: Config;
  db: Db;
  git: GitBackend & { repoPath(repoId: number): string };
  repos: RepoService;
  versions: ModelVersions;
  store: ObjectStore;
  queue: JobQueue;
  webhooks: WebhookService;
  authenticate: Authenticate;
}

/** Restart delays: 1 s doubling to 60 s; a replica ready for 60 s before it crashed starts again at 1 s. */
const BACKOFF = { backoffInitialMs: 1000, backoffMaxMs: 60_000, stableMs: 60_000 };

export async function wireDeployments(app: FastifyInstance, deps: Deps): Promise<DeploymentService> {
  const { config } = deps;
  const deployments = new DeploymentService(
    {
      db: deps.db,
      repos: deps.repos,
      versions: deps.versions,
      git: deps.git,
      launcher: new RuntimeLauncher({
        runtime: () => createRuntime({ kind: config.runs.runtime, dockerSocket: config.runs.dockerSocket, unsafeNoSandbox: config.runs.unsafeNoSandbox, kubernetes: config.runs.kubernetes, relayImage: config.deploy.relayImage }),
        root: path.join(config.dataDir, 'deployments'),
        gitDir: (repoId) => deps.git.repoPath(repoId),
        store: deps.store,
        pids: config.runs.pids,
        startTimeoutMs: config.deploy.startTimeoutMs,
      }),
      logs: new FileLogStore(path.join(config.dataDir, 'deployment-logs')),
      queue: deps.queue,
      events: { stateChanged: (view, previous) => deps.webhooks.emit(view.deployment.repoId, 'deployment.state', statePayload(view, previous), null) },
      log: app.log,
    },
    {
      ...BACKOFF,
      idleStopMs: config.deploy.idleStopMs,
      drainTimeoutMs: config.deploy.timeoutMs,
      startWaitMs: config.deploy.startTimeoutMs,
      healthIntervalMs: config.deploy.healthIntervalMs,
      maxCpus: config.runs.maxCpus,
      maxMemoryBytes: config.runs.maxMemoryBytes,
      maxReplicas: config.deploy.maxReplicas,
      maxLogBytes: config.runs.maxLogBytes,
      imageEntrypoints: config.runs.runtime === 'docker',
      syncIntervalMs: 30_000,
    },
  );
  deployments.registerWorkers();
  registerDeploymentRoutes(app, { config, authenticate: deps.authenticate, deployments });
  await registerServeRoutes(app, { authenticate: deps.authenticate, deployments, limits: config.deploy });
  app.addHook('onReady', async () => deployments.resume());
  app.addHook('onClose', async () => deployments.close());
  return deployments;
}

function statePayload({ deployment, status }: DeploymentView, previous: string): Record<string, unknown> {
  return {
    action: status.state,
    deployment: { model: deployment.model, alias: deployment.alias, state: status.state, previous_state: previous, version: status.version, message: status.message, restarts: status.restarts },
  };
}
