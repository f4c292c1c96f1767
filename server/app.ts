// The composition root: reads config, builds adapters, wires domain services, registers
// routes, and returns the app without listening (server/main.ts listens).
import fastifyJwt from '@fastify/jwt';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { registerLfsRoutes } from '../lfs/lfs-routes.ts';
import { GitCliBackend } from './adapters/git/git-cli-backend.ts';
import { gitSpawner } from './adapters/git/git-spawner.ts';
import { LocalObjectStore } from './adapters/object-store/local-store.ts';
import { CrashLeftovers } from './adapters/housekeeping/crash-leftovers.ts';
import { HttpWebhookSender } from './adapters/webhooks/http-sender.ts';
import { InProcessQueue } from './adapters/queue/in-process-queue.ts';
import type { Config } from './config.ts';
import { preparePrivateDataDir } from './data-dir.ts';
import { connectDatabase, poolUsage, type Db } from './db/connect.ts';
import { oldestQueuedRun, unfinishedRunCounts } from './db/run-stats.ts';
import { migrateToLatest } from './db/migrate.ts';
import { AccountService } from './domain/accounts.ts';
import { AuditLog } from './domain/audit.ts';
import { ActionTokens } from './domain/action-tokens.ts';
import { LfsService } from './domain/lfs.ts';
import { LockService } from './domain/lfs-locks.ts';
import { ManifestMemo } from './domain/manifest-memo.ts';
import { DownloadCounter } from './domain/hf/downloads.ts';
import { HookSessions } from './domain/hook-sessions.ts';
import { PushOutbox } from './domain/push-outbox.ts';
import type { GitBackend, JobQueue, ObjectStore } from './domain/ports.ts';
import { PushService } from './domain/pushes.ts';
import { RunAdmission } from './domain/runs/admission.ts';
import { RepoService } from './domain/repos.ts';
import { randomSecret } from './domain/secrets.ts';
import { SecretBox } from './domain/secret-box.ts';
import { buildAllowList } from './domain/ssrf-guard.ts';
import { StatusService } from './domain/statuses.ts';
import { UserAdmin } from './domain/user-admin.ts';
import { WebhookService } from './domain/webhooks.ts';
import { registerAccountRoutes } from './http/api/account-routes.ts';
import { registerAdminUserRoutes } from './http/api/admin-user-routes.ts';
import { registerAuditRoutes } from './http/api/audit-routes.ts';
import { registerBrowseRoutes } from './http/api/browse-routes.ts';
import { registerHealthRoutes } from './http/api/health-routes.ts';
import { registerLfsObjectRoutes } from './http/api/lfs-object-routes.ts';
import { registerOpenApi } from './http/api/openapi.ts';
import { registerRepoRoutes } from './http/api/repo-routes.ts';
import { registerSchemaRoutes } from './http/api/schema-routes.ts';
import { registerStatusRoutes } from './http/api/status-routes.ts';
import { registerWebhookRoutes } from './http/api/webhook-routes.ts';
import { makeAuthenticate } from './http/authenticate.ts';
import { registerErrorHandler, sendError } from './http/errors.ts';
import { registerGitRoutes } from './http/git/smart-http.ts';
import { registerHubRoutes } from './http/hf/index.ts';
import { CliHubGit } from './adapters/git/hub-git.ts';
import { registerHookRoutes } from './http/internal/hook-routes.ts';
import { PushesInFlight } from './http/git/pushes-in-flight.ts';
import { loggerOptions } from './logger.ts';
import { registerRunRoutes } from './http/api/run-routes.ts';
import { registerRegistryRoutes } from './http/api/registry-routes.ts';
import { registryEvents } from './domain/registry/events.ts';
import { createRegistry, type ModelRegistry } from './domain/registry/registry.ts';
import { followedByDeployments } from './domain/deployments/follow-registry.ts';
import type { DeploymentService } from './domain/deployments/service.ts';
import { wireDeployments } from './wire-deployments.ts';
import { registerRunnerRoutes } from './http/runner/runner-routes.ts';
import { wireRuns, type RunsWiring } from './wire-runs.ts';
import { authFailureLimiter } from './wire-auth-limits.ts';
import { runEvents } from './domain/runs/run-events.ts';
import { registerWeb } from './web/index.ts';
import { registerHttpMetrics } from './observability/http-metrics.ts';
import { installMeter, uninstallMeter } from './observability/meter.ts';
import { meteredRunEvents, meteredWebhookSender } from './observability/metered-services.ts';
import { registerMetricsEndpoint } from './observability/metrics-endpoint.ts';
import type { QueueDepth } from './observability/metric-sources.ts';
import { storeReachable } from './observability/store-probe.ts';
import { inSpan, registerHttpTracing, RunTraces, tracedClaims, tracedNoteWrites } from './observability/tracing.ts';

export interface Services {
  db: Db;
  git: GitBackend;
  queue: JobQueue;
  accounts: AccountService;
  repos: RepoService;
  pushes: PushService;
  lfs: LfsService;
  store: ObjectStore;
  runs: RunsWiring;
  webhooks: WebhookService;
  statuses: StatusService;
  audit: AuditLog;
  registry: ModelRegistry;
}

export interface App {
  app: FastifyInstance;
  services: Services;
  /** The admin created on first start, with its password when it was generated (print it once). */
  firstAdmin: { username: string; generatedPassword: string | null } | null;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const HOUR_MS = 3_600_000;

export async function buildApp(config: Config): Promise<App> {
  // First: its umask 077 is what the git spawner (and so every git) inherits.
  await preparePrivateDataDir(config.dataDir);
  // Before the database grows the process: from here on git starts never fork the server itself.
  gitSpawner.start();
  const db = await connectDatabase(config.databaseUrl, config.dataDir);
  await migrateToLatest(db);

  const app = Fastify({
    // request.ip is the client named by X-Forwarded-For only when the peer is a configured proxy;
    // otherwise anyone could claim any address and escape the sign-in limiter.
    trustProxy: config.trustedProxies.length > 0 ? [...config.trustedProxies] : false,
    logger: loggerOptions(config.logLevel),
    // Behind a proxy request ids arrive in X-Request-Id; otherwise each request gets a UUID.
    // Types are checked, never coerced: {"username": 12345} is an error, not user "12345".
    ajv: { customOptions: { coerceTypes: false } },
    // Requests Node's HTTP parser rejects get the same error shape as everything else.
    clientErrorHandler: (err, socket) => {
      const body = JSON.stringify({ error: { code: 'bad_request', message: 'malformed HTTP request' } });
      if (socket.writable) socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      void err;
    },
    // Repo paths and LFS oids are long; names are validated by the routes themselves.
    routerOptions: { maxParamLength: 1024 },
    // Malformed URLs (bad percent-encoding) get the same error shape as everything else.
    frameworkErrors: (err, _request, reply) => {
      // The hook's reply type is generic over route schemas that do not exist yet.
      void sendError(reply as unknown as FastifyReply, 400, 'bad_request', err.message);
    },
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
  });
  // prom-client is loaded only when metrics are on (idle RSS). Before any route: the hook sees them all.
  const metrics = config.metrics.mode === 'off' ? null : (await import('./observability/prometheus-meter.ts')).createPrometheusMeter();
  if (metrics) {
    installMeter(metrics.meter);
    registerHttpMetrics(app);
    app.addHook('onClose', async () => uninstallMeter(metrics.meter));
  }
  // The OpenTelemetry SDK likewise (tracing-sdk.ts); spans start at each request, with its route.
  const runTraces = config.tracing === 'otlp' ? new RunTraces() : null;
  if (runTraces) {
    const sdk = await import('./observability/tracing-sdk.ts');
    sdk.startTracing('mlgit');
    registerHttpTracing(app);
    app.addHook('onClose', () => sdk.flushTracing());
  }
  registerErrorHandler(app, { dataDir: config.dataDir });
  const secret = config.jwtSecret ?? (await persistentSecret(config.dataDir, 'jwt-secret'));
  await app.register(fastifyJwt, { secret });
  // Before any route: it collects them as they are added.
  await registerOpenApi(app, { version: await packageVersion(), description: 'Repositories, runs, metrics, webhooks and commit statuses of an mlgit server.' });

  const git = new GitCliBackend(config.dataDir, config.git.maxPushBytes);
  const onQueueError = (name: string, err: unknown) => app.log.error({ err, job: name }, 'job queue error');
  // bullmq/ioredis and the AWS SDK (below) are loaded only when configured: ~30 MB of RSS the
  // embedded default would carry for nothing.
  const queue: JobQueue & { depths(): Promise<QueueDepth[]> } = config.redisUrl ? new (await import('./adapters/queue/bullmq-queue.ts')).BullMqQueue({ redisUrl: config.redisUrl, prefix: config.redisPrefix, onError: onQueueError }) : new InProcessQueue(onQueueError);
  const accounts = new AccountService(db);
  const repos = new RepoService(db, git);
  const store: ObjectStore = config.s3
    ? new (await import('./adapters/object-store/s3-store.ts')).S3ObjectStore({ ...config.s3, presignExpiresSeconds: config.lfs.actionTtlSeconds })
    : new LocalObjectStore(path.join(config.dataDir, 'lfs'));
  const lfs = new LfsService(db, repos, store, new ActionTokens(secret, config.lfs.actionTtlSeconds), config.lfs);
  const locks = new LockService(db, repos);
  const webhooks = new WebhookService(
    db,
    queue,
    repos,
    git,
    new SecretBox(config.secretKey ?? (await persistentSecret(config.dataDir, 'secret-key'))),
    meteredWebhookSender(new HttpWebhookSender({ allow: buildAllowList(config.webhooks.allow), followRedirects: config.webhooks.followRedirects })),
    { ...config.webhooks, userAgent: `mlgit-hookshot/${await packageVersion()}`, publicUrl: () => config.publicUrl?.replace(/\/+$/, '') ?? hookUrl(app) },
    (message, fields) => app.log.warn(fields, message),
  );
  webhooks.registerWorkers();
  webhooks.startHousekeeping(600_000, (err) => app.log.error({ err }, 'webhook housekeeping failed'));
  const statuses = new StatusService(db, git, webhooks);
  const audit = new AuditLog(db);
  const admission = new RunAdmission(db, config.runs);
  const manifests = new ManifestMemo();
  const pushes = new PushService(
    db,
    git,
    queue,
    config.maintenanceDelayMs,
    {
      present: (repoId, oids) => lfs.present(repoId, oids),
      heldByOthers: (repoId, userId) => locks.heldByOthers(repoId, userId),
    },
    admission,
    manifests,
    (context, updates) => webhooks.onPushed(context, updates),
  );
  pushes.registerWorkers();
  const meteredEvents = meteredRunEvents(runEvents({
    webhooks,
    statuses,
    baseUrl: () => config.publicUrl?.replace(/\/+$/, '') ?? hookUrl(app),
    repoPath: async (repoId) => {
      const repo = await repos.byId(repoId);
      return repo ? `${repo.owner}/${repo.name}` : String(repoId);
    },
    log: app.log,
  }));
  const runEventSink = runTraces ? runTraces.events(meteredEvents) : meteredEvents;
  const runs = await wireRuns(app, { config, db, git: runTraces ? tracedNoteWrites(git) : git, queue, repos, accounts, store, secret, admission, manifests }, runEventSink);
  // CI metrics posted with a commit status are stored like runner metrics (job ci:<context>).
  statuses.setOnMetrics((repoId, sha, context, metrics, state) => runs.results.recordExternal(repoId, sha, context, metrics, state));
  const registry = createRegistry({
    db,
    git,
    store,
    log: app.log,
    // Deployments follow their alias: they are wired below, once routes can be registered.
    events: followedByDeployments(
      registryEvents({ emit: (...args) => webhooks.emit(...args), audit, repoById: (id) => repos.byId(id), baseUrl: () => config.publicUrl?.replace(/\/+$/, '') ?? hookUrl(app), log: app.log }),
      (repoId, model) => deployments?.modelChanged(repoId, model),
    ),
  });
  let deployments: DeploymentService | null = null;
  // A successful run registers the model versions its manifest declares before its note is written.
  runs.results.setRegistry(registry.versions);
  const hookSessions = new HookSessions();
  const pushesInFlight = new PushesInFlight();
  const limiter = await authFailureLimiter(app, config);
  const authenticate = makeAuthenticate(app, accounts, limiter, (token) => runs.lifecycle.jobPrincipal(token));

  const outbox = new PushOutbox(
    {
      db,
      git,
      repoById: (id) => repos.byId(id),
      dispatch: (...args) => inSpan('mlgit.dispatch', {}, () => runs.dispatcher.dispatchPush(...args)),
      supersede: (...args) => runs.dispatcher.supersede(...args),
      afterPush: async (context, updates) => {
        await pushes.afterPush(context, updates);
        await deployments?.pushed(context.repoId, context.pusherId, updates);
      },
      inFlight: () => pushesInFlight.secrets(),
      onError: (err, message) => app.log.error({ err }, message),
    },
    config.pushOutbox,
  );
  app.addHook('onReady', async () => outbox.start());

  registerHealthRoutes(app, { db, queueReachable: (timeoutMs) => queue.reachable(timeoutMs), outboxBacklog: () => outbox.backlog(), storeReachable: (timeoutMs) => storeReachable(store, timeoutMs) });
  if (metrics) {
    metrics.observe({
      gitProcesses: () => gitSpawner.running,
      queueDepths: () => queue.depths(),
      runsByStatus: () => unfinishedRunCounts(db),
      oldestQueuedRun: () => oldestQueuedRun(db),
      notesConflicts: () => runs.notes.conflicts,
      dbPool: () => poolUsage(db),
    });
    registerMetricsEndpoint(app, config.metrics, metrics.registry, authenticate);
  }
  registerSchemaRoutes(app);
  registerAccountRoutes(app, { config, accounts, authenticate, limiter, audit });
  const users = new UserAdmin({
    db,
    accounts,
    repos,
    cancelRun: (run) => runs.lifecycle.cancel(run),
    repoDeleted: (repoId, actorId) => webhooks.emit(repoId, 'repo.deleted', { action: 'deleted' }, actorId),
  });
  registerAdminUserRoutes(app, { users, authenticate, audit });
  registerRepoRoutes(app, { config, repos, authenticate, lfsUsage: (repoId) => lfs.usage(repoId), audit, events: webhooks });
  registerWebhookRoutes(app, { webhooks, audit, authenticate });
  registerStatusRoutes(app, { statuses, repos, authenticate });
  registerAuditRoutes(app, { audit, authenticate });
  registerLfsObjectRoutes(app, { lfs, accounts, authenticate });
  registerBrowseRoutes(app, { repos, git, authenticate });
  registerHookRoutes(app, { hookSessions, pushesInFlight, pushes, outbox, repos });
  registerRunRoutes(app, { config, repos, authenticate, store, ...runs });
  registerRunnerRoutes(app, { lifecycle: runTraces ? tracedClaims(runs.lifecycle, runTraces) : runs.lifecycle, runnerToken: runs.runnerToken });
  registerRegistryRoutes(app, { config, repos, authenticate, registry, store, refreshNote: (repoId, sha) => runs.notes.refresh(repoId, sha) });
  deployments = await wireDeployments(app, { config, db, git, repos, versions: registry.versions, store, queue, webhooks, authenticate });
  await registerLfsRoutes(app, { config, lfs, locks, authenticate });
  registerGitRoutes(app, { config, repos, git, hookSessions, pushesInFlight, authenticate, hookUrl: () => hookUrl(app), outbox });
  // The Hugging Face Hub API; its `resolve`/`raw` routes share paths with the pages' (see its hubClient constraint).
  const hubDownloads = new DownloadCounter(repos, (err) => app.log.warn({ err }, 'could not record Hub downloads; they are added at the next flush'));
  await registerHubRoutes(app, { downloads: hubDownloads, repos, git, hubGit: new CliHubGit((id) => git.repoPath(id)), lfs, store, audit, events: webhooks, pushes, outbox, pushesInFlight, authenticate, publicUrl: config.publicUrl });
  // Last: the pages' `/:owner/:repo/...` routes sit beside git's, the API's and LFS's own paths.
  await registerWeb(app, { config, accounts, repos, git, runs: runs.queries, runControl: { ...runs, store }, lfs, audit, limiter, webhooks }, secret);

  const firstAdmin = await accounts.ensureAdmin(config.adminPassword);
  // A push cannot outlive the git total timeout, so an older quarantine is surely abandoned.
  const leftovers = new CrashLeftovers(config.dataDir, Math.max(HOUR_MS, config.git.totalTimeoutMs));
  const sweepLeftovers = async () => {
    const swept = await leftovers.sweep();
    if (swept.removed > 0) app.log.warn(swept, 'removed what killed pushes and uploads left behind');
  };
  await sweepLeftovers();
  const housekeeping = setInterval(() => void sweepLeftovers().catch((err: unknown) => app.log.error({ err }, 'housekeeping failed')), HOUR_MS);
  housekeeping.unref();
  app.addHook('onClose', async () => {
    clearInterval(housekeeping);
    outbox.stop();
    runs.stop();
    webhooks.stopHousekeeping();
    await queue.close();
    await hubDownloads.flush();
    await db.destroy();
  });
  return { app, services: { db, git, queue, accounts, repos, pushes, lfs, store, runs, webhooks, statuses, audit, registry }, firstAdmin };
}

/** Hooks and the embedded runner reach the process on loopback, on whatever port it got. */
export function hookUrl(app: FastifyInstance): string {
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('server is not listening on TCP');
  return `http://${address.family === 'IPv6' && address.address !== '::' ? '[::1]' : '127.0.0.1'}:${address.port}`;
}

/**
 * Secrets not given in config (MLGIT_JWT_SECRET, MLGIT_SECRET_KEY, MLGIT_RUNNER_TOKEN) are generated
 * once and kept in the data dir, so restarts keep sessions, runners and stored webhook secrets working.
 */
export async function persistentSecret(dataDir: string, name: 'jwt-secret' | 'secret-key' | 'runner-token'): Promise<string> {
  const file = path.join(dataDir, name);
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    // Written aside, then linked into place: another process starting now (a CLI command beside
    // `serve`) never reads the file before its content is in it; a link that exists means it won.
    const aside = `${file}.${process.pid}.${randomSecret(8)}`;
    await fs.writeFile(aside, randomSecret(48), { mode: 0o600 });
    await fs.link(aside, file).catch(() => {});
    await fs.rm(aside, { force: true });
    return (await fs.readFile(file, 'utf8')).trim();
  }
}

/** For the webhook User-Agent (mlgit-hookshot/<version>). */
async function packageVersion(): Promise<string> {
  const pkg = JSON.parse(await fs.readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
