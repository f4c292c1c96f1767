// Part of the composition root (server/app.ts): builds the push-to-train services, the stall
// sweeper and, in the embedded default, an in-process runner that talks to this server over HTTP
// on loopback exactly as a remote `mlgit runner` would.
import type { FastifyInstance } from 'fastify';
import path from 'node:path';
import { Runner, defaultRunnerName } from '../runner/runner.ts';
import { createRuntime, describeSandbox } from '../runner/runtime/index.ts';
import type { ContainerRuntime } from '../runner/runtime/types.ts';
import { hookUrl, persistentSecret } from './app.ts';
import { FileLogStore } from './adapters/logs/file-log-store.ts';
import { PostgresLogStore } from './adapters/logs/postgres-log-store.ts';
import { WithLegacyFileLogs } from './adapters/logs/legacy-file-logs.ts';
import type { Config } from './config.ts';
import type { Db } from './db/connect.ts';
import type { AccountService } from './domain/accounts.ts';
import { NotesWriter } from './domain/notes-writer.ts';
import type { GitBackend, JobQueue, ObjectStore, RunLogStore } from './domain/ports.ts';
import type { RepoService } from './domain/repos.ts';
import type { ManifestMemo } from './domain/manifest-memo.ts';
import type { RunAdmission } from './domain/runs/admission.ts';
import { RunDispatcher } from './domain/runs/dispatcher.ts';
import { JobTokens } from './domain/runs/job-tokens.ts';
import { RunLifecycle } from './domain/runs/lifecycle.ts';
import type { RunEvents } from './domain/runs/model.ts';
import { RunQueries } from './domain/runs/queries.ts';
import { RunResults } from './domain/runs/results.ts';
import { RUN_JOB, RunScheduler } from './domain/runs/scheduler.ts';

export interface RunsWiring {
  dispatcher: RunDispatcher;
  lifecycle: RunLifecycle;
  queries: RunQueries;
  results: RunResults;
  notes: NotesWriter;
  logs: RunLogStore;
  runnerToken: string;
  runtime: ContainerRuntime | null;
  /** Runs the stall sweep now (tests, and once at start to pick up what a restart lost). */
  sweep(): Promise<unknown>;
  stop(): void;
}

interface Deps {
  config: Config;
  db: Db;
  git: GitBackend;
  queue: JobQueue;
  repos: RepoService;
  accounts: AccountService;
  store: ObjectStore;
  secret: string;
  /** Shared with pre-receive (server/app.ts): manual runs meet the same limits as pushes. */
  admission: RunAdmission;
  /** Shared with pre-receive (server/app.ts): a push's manifest is read once. */
  manifests: ManifestMemo;
}

export async function wireRuns(app: FastifyInstance, deps: Deps, events: RunEvents): Promise<RunsWiring> {
  const { config, db, git, queue, repos, accounts, store } = deps;
  const runs = config.runs;
  const runnerToken = runs.runnerToken ?? (await persistentSecret(config.dataDir, 'runner-token'));
  // On Postgres the logs are rows, which every node of a multi-node server shares (README,
  // Decisions); runs from before a data dir moved to Postgres keep their files.
  const files = new FileLogStore(path.join(config.dataDir, 'run-logs'));
  const logs = config.databaseUrl ? new WithLegacyFileLogs(new PostgresLogStore(db), files) : files;
  const scheduler = new RunScheduler(db, queue, events, runs);
  let notes: NotesWriter | null = null;
  const results = new RunResults(db, git, () => notes!, events, app.log);
  notes = new NotesWriter(git, (repoId, sha) => results.renderNote(repoId, sha), app.log);
  const resolveDatasetRepo = async (creatorId: number | null, fullName: string) => {
    const [owner, name] = fullName.split('/');
    if (creatorId === null || !owner || !name) return null;
    const principal = await accounts.principalForJwt(creatorId);
    return repos.authorize(principal, owner, name, 'read').then(
      (access) => ({ id: access.repo.id }),
      () => null,
    );
  };
  const dispatcher = new RunDispatcher(db, git, scheduler, deps.admission, events, resolveDatasetRepo, (run) => results.completed(run), {
    cancelSuperseded: runs.cancelSuperseded,
    limits: runs,
    manifests: deps.manifests,
    onHandOffError: (err, dispatchId) => app.log.warn({ err, dispatchId }, 'handing new runs to the queue failed; the periodic sweep hands them over'),
  });
  const lifecycle = new RunLifecycle(db, (id) => repos.byId(id), store, logs, new JobTokens(deps.secret), scheduler, results, {
    maxLogBytes: runs.maxLogBytes,
    stallTimeoutMs: runs.stallTimeoutMs,
  });

  let runtime: ContainerRuntime | null = null;
  let runner: Runner | null = null;
  if (runs.runner === 'embedded') {
    const runtimeConfig = { kind: runs.runtime, dockerSocket: runs.dockerSocket, unsafeNoSandbox: runs.unsafeNoSandbox, kubernetes: runs.kubernetes };
    const embedded = createRuntime(runtimeConfig);
    runtime = embedded;
    const sandbox = describeSandbox(runtimeConfig);
    app.log[sandbox.ok ? 'info' : 'error']({ runtime: embedded.name }, sandbox.summary);
    runner = new Runner({
      serverUrl: () => hookUrl(app),
      token: runnerToken,
      name: `embedded-${defaultRunnerName()}`,
      workDir: runs.runnerWorkDir ?? path.join(config.dataDir, 'runner'),
      runtime: embedded,
      heartbeatMs: runs.heartbeatMs,
      stallTimeoutMs: runs.stallTimeoutMs,
      log: app.log,
    });
    const embeddedRunner = runner;
    queue.process(RUN_JOB, (data) => embeddedRunner.handle(data), { concurrency: runs.runnerConcurrency, attempts: 5 });
  }

  const sweep = () =>
    lifecycle.sweep().catch((err: unknown) => {
      app.log.error({ err }, 'run stall sweep failed');
    });
  const timer = setInterval(() => void sweep(), Math.max(250, Math.floor(runs.stallTimeoutMs / 2)));
  timer.unref();
  app.addHook('onReady', async () => {
    await sweep();
  });
  return {
    dispatcher,
    lifecycle,
    queries: new RunQueries(db, git),
    results,
    notes,
    logs,
    runnerToken,
    runtime,
    sweep,
    stop: () => {
      clearInterval(timer);
      runner?.close();
      void runtime?.close();
    },
  };
}
