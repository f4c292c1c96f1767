import path from 'node:path';
import type { RunLimits } from './domain/runs/plan.ts';
import type { QueueLimits } from './domain/runs/queue-policy.ts';
import { parseAllowEntry } from './domain/ssrf-guard.ts';
import type { KubernetesSettings } from '../runner/runtime/kubernetes-lazy.ts';
import { deployConfig, type DeployConfig } from './deploy-config.ts';

/** Parsed once at start, validated, frozen. Every variable is documented in .env.example. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly databaseUrl: string | null;
  readonly redisUrl: string | null;
  readonly publicUrl: string | null;
  readonly adminPassword: string | null;
  readonly jwtSecret: string | null;
  readonly jwtTtlSeconds: number;
  readonly signup: 'open' | 'admin';
  readonly logLevel: string;
  readonly git: GitLimits;
  readonly authFailures: { readonly max: number; readonly windowSeconds: number };
  /** Proxies whose X-Forwarded-For names the client (addresses or CIDRs); empty: the socket's peer is the client. */
  readonly trustedProxies: readonly string[];
  readonly maintenanceDelayMs: number;
  /** The push outbox reconciler: rows younger than graceMs may be a push still in flight on another node. */
  readonly pushOutbox: { readonly graceMs: number; readonly intervalMs: number };
  readonly lfs: { readonly maxObjectBytes: number; readonly actionTtlSeconds: number; readonly maxBatchObjects: number };
  /** Set when LFS objects live in S3 (or an S3-compatible store) instead of the data dir. */
  readonly s3: S3Config | null;
  readonly runs: RunsConfig;
  /** BullMQ key prefix: one per deployment (tests use a unique one). */
  readonly redisPrefix: string;
  /** Encrypts webhook secrets at rest; generated into the data dir when unset. */
  readonly secretKey: string | null;
  readonly webhooks: WebhookConfig;
  /** Model deployments (MLGIT_DEPLOY_*): idle stop, request caps and deadlines. */
  readonly deploy: DeployConfig;
  /** MLGIT_METRICS: where GET /metrics is served, if anywhere (off by default). */
  readonly metrics: MetricsConfig;
  /** MLGIT_TRACING: `otlp` exports OpenTelemetry traces (endpoint from OTEL_EXPORTER_OTLP_*). */
  readonly tracing: 'off' | 'otlp';
}

/** `admin`: on the main port, to site admins; `listen`: unauthenticated, on a port of its own. */
export type MetricsConfig = { readonly mode: 'off' } | { readonly mode: 'admin' } | { readonly mode: 'listen'; readonly host: string; readonly port: number };

/** Run limits (timeouts, memory, cpus, pids, matrix size) are the dispatcher's RunLimits. */
export interface RunsConfig extends RunLimits, QueueLimits {
  /** `embedded`: this process also runs jobs (the default); `off`: only `mlgit runner` processes do. */
  readonly runner: 'embedded' | 'off';
  readonly runtime: 'process' | 'docker' | 'kubernetes';
  /** MLGIT_RUNTIME=kubernetes: where job pods run and how they see the runner's work dir (null otherwise). */
  readonly kubernetes: KubernetesSettings | null;
  /** For `mlgit runner`: the server's URL as this runner reaches it. */
  readonly serverUrl: string | null;
  readonly dockerSocket: string;
  /** Shared secret of runners; the embedded default keeps a generated one in the data dir. */
  readonly runnerToken: string | null;
  readonly runnerConcurrency: number;
  readonly runnerWorkDir: string | null;
  readonly heartbeatMs: number;
  readonly stallTimeoutMs: number;
  readonly maxLogBytes: number;
  readonly cancelSuperseded: boolean;
  /** MLGIT_UNSAFE_NO_SANDBOX: the process runtime runs jobs with no sandbox at all (refused with open sign-up). */
  readonly unsafeNoSandbox: boolean;
}

export interface WebhookConfig {
  /** Hosts, addresses and CIDRs that hooks may target even though they are loopback/private. */
  readonly allow: readonly string[];
  readonly disableAfter: number;
  readonly retentionDays: number;
  readonly timeoutMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly maxAttempts: number;
  readonly followRedirects: boolean;
  readonly concurrency: number;
}

export interface S3Config {
  readonly endpoint: string | undefined;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly forcePathStyle: boolean;
}

export interface GitLimits {
  readonly maxUploadRequestBytes: number;
  readonly maxPushBytes: number;
  readonly idleTimeoutMs: number;
  readonly totalTimeoutMs: number;
  readonly maxPerRepo: number;
  readonly maxPerClient: number;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new ConfigError(`${name} must be >= ${min}, got "${raw}"`);
  return value;
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
  }
  return raw;
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(values as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

const MiB = 1024 * 1024;

function s3Config(env: Env): S3Config | null {
  if (!env.S3_BUCKET) {
    const stray = ['S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'].find((name) => env[name]);
    if (stray) throw new ConfigError(`${stray} is set but S3_BUCKET is not`);
    return null;
  }
  for (const name of ['S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) {
    if (!env[name]) throw new ConfigError(`${name} is required when S3_BUCKET is set`);
  }
  return {
    endpoint: url(env, 'S3_ENDPOINT', ['http:', 'https:']) ?? undefined,
    bucket: env.S3_BUCKET,
    region: env.S3_REGION || 'us-east-1',
    accessKeyId: env.S3_ACCESS_KEY_ID!,
    secretAccessKey: env.S3_SECRET_ACCESS_KEY!,
    forcePathStyle: oneOf(env, 'S3_FORCE_PATH_STYLE', ['true', 'false'] as const, 'true') === 'true',
  };
}

function runsConfig(env: Env): RunsConfig {
  const runnerToken = env.MLGIT_RUNNER_TOKEN || null;
  if (runnerToken !== null && runnerToken.length < 32) throw new ConfigError('MLGIT_RUNNER_TOKEN must be at least 32 characters');
  const runner = oneOf(env, 'MLGIT_RUNNER', ['embedded', 'off'] as const, 'embedded');
  const runnerConcurrency = int(env, 'MLGIT_RUNNER_CONCURRENCY', 2, 1);
  // The embedded runner's slots are known; remote runners' are not, so they get a guess to set.
  const runtime = oneOf(env, 'MLGIT_RUNTIME', ['process', 'docker', 'kubernetes'] as const, 'process');
  const runnerWorkDir = env.MLGIT_RUNNER_WORK_DIR ? path.resolve(env.MLGIT_RUNNER_WORK_DIR) : null;
  const queueWindow = int(env, 'MLGIT_RUN_QUEUE_WINDOW', runner === 'embedded' ? runnerConcurrency : 16, 1);
  return {
    runner,
    runtime,
    kubernetes: runtime === 'kubernetes' ? kubernetesSettings(env, runnerWorkDir) : null,
    serverUrl: url(env, 'MLGIT_SERVER_URL', ['http:', 'https:']),
    dockerSocket: env.MLGIT_DOCKER_SOCKET || '/var/run/docker.sock',
    runnerToken,
    runnerConcurrency,
    runnerWorkDir,
    heartbeatMs: int(env, 'MLGIT_RUNNER_HEARTBEAT_MS', 2000, 100),
    stallTimeoutMs: int(env, 'MLGIT_RUN_STALL_TIMEOUT_MS', 60_000, 500),
    maxLogBytes: int(env, 'MLGIT_RUN_MAX_LOG_BYTES', 256 * MiB, 1024),
    cancelSuperseded: oneOf(env, 'MLGIT_RUN_CANCEL_SUPERSEDED', ['true', 'false'] as const, 'true') === 'true',
    unsafeNoSandbox: oneOf(env, 'MLGIT_UNSAFE_NO_SANDBOX', ['true', 'false'] as const, 'false') === 'true',
    defaultTimeoutSeconds: int(env, 'MLGIT_RUN_DEFAULT_TIMEOUT_SECONDS', 3600, 1),
    maxTimeoutSeconds: int(env, 'MLGIT_RUN_MAX_TIMEOUT_SECONDS', 6 * 3600, 1),
    defaultMemoryBytes: int(env, 'MLGIT_RUN_DEFAULT_MEMORY_BYTES', 2048 * MiB, 16 * MiB),
    maxMemoryBytes: int(env, 'MLGIT_RUN_MAX_MEMORY_BYTES', 8192 * MiB, 16 * MiB),
    maxCpus: int(env, 'MLGIT_RUN_MAX_CPUS', 2, 1),
    pids: int(env, 'MLGIT_RUN_PIDS_LIMIT', 512, 16),
    maxMatrixExpansions: int(env, 'MLGIT_RUN_MAX_MATRIX', 64, 1),
    maxRunsPerPush: int(env, 'MLGIT_RUN_MAX_PER_PUSH', 100, 1),
    maxQueuedPerOwner: int(env, 'MLGIT_RUN_MAX_QUEUED_PER_OWNER', 1000, 1),
    maxQueuedPerRepo: int(env, 'MLGIT_RUN_MAX_QUEUED_PER_REPO', 1000, 1),
    queueWindow,
    // Work-conserving by default: a lone owner may use every slot; fairness is in the pick order.
    maxRunningPerOwner: int(env, 'MLGIT_RUN_MAX_RUNNING_PER_OWNER', queueWindow, 1),
    maxRunningPerRepo: int(env, 'MLGIT_RUN_MAX_RUNNING_PER_REPO', queueWindow, 1),
  };
}

const K8S_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Job pods mount the claim that holds the runner's work dir, so both must be named. */
function kubernetesSettings(env: Env, workRoot: string | null): KubernetesSettings {
  const workClaim = env.MLGIT_K8S_WORK_CLAIM ?? '';
  if (!workClaim) throw new ConfigError('MLGIT_RUNTIME=kubernetes needs MLGIT_K8S_WORK_CLAIM: the PersistentVolumeClaim that holds MLGIT_RUNNER_WORK_DIR, mounted by job pods');
  if (!workRoot) throw new ConfigError('MLGIT_RUNTIME=kubernetes needs MLGIT_RUNNER_WORK_DIR: where the runner mounts MLGIT_K8S_WORK_CLAIM');
  const namespace = env.MLGIT_K8S_NAMESPACE || null;
  for (const [name, value] of [['MLGIT_K8S_WORK_CLAIM', workClaim], ['MLGIT_K8S_NAMESPACE', namespace]] as const) {
    if (value !== null && !K8S_NAME.test(value)) throw new ConfigError(`${name} must be a Kubernetes name (lower-case letters, digits and -, at most 63), got "${value}"`);
  }
  return { namespace, workClaim, workRoot, ttlSeconds: int(env, 'MLGIT_K8S_JOB_TTL_SECONDS', 600, 0) };
}

function allowList(env: Env, name: string): string[] {
  const entries = (env[name] ?? '').split(',').map((e) => e.trim()).filter(Boolean);
  for (const entry of entries) if (!parseAllowEntry(entry)) throw new ConfigError(`${name}: "${entry}" is not a host name, an IP address or a CIDR range`);
  return entries;
}

function addressList(env: Env, name: string): string[] {
  const entries = allowList(env, name);
  const named = entries.find((entry) => !('address' in parseAllowEntry(entry)!));
  if (named) throw new ConfigError(`${name}: "${named}" is a host name; give IP addresses or CIDR ranges`);
  return entries;
}

function webhookConfig(env: Env): WebhookConfig {
  return {
    allow: allowList(env, 'MLGIT_WEBHOOK_ALLOW'),
    disableAfter: int(env, 'MLGIT_WEBHOOK_DISABLE_AFTER', 20, 1),
    retentionDays: int(env, 'MLGIT_WEBHOOK_RETENTION_DAYS', 30, 1),
    timeoutMs: int(env, 'MLGIT_WEBHOOK_TIMEOUT_MS', 10_000, 100),
    backoffBaseMs: int(env, 'MLGIT_WEBHOOK_BACKOFF_BASE_MS', 10_000, 1),
    backoffMaxMs: int(env, 'MLGIT_WEBHOOK_BACKOFF_MAX_MS', 3_600_000, 1),
    maxAttempts: int(env, 'MLGIT_WEBHOOK_MAX_ATTEMPTS', 8, 1),
    followRedirects: oneOf(env, 'MLGIT_WEBHOOK_FOLLOW_REDIRECTS', ['true', 'false'] as const, 'false') === 'true',
    concurrency: int(env, 'MLGIT_WEBHOOK_CONCURRENCY', 8, 1),
  };
}

/** `off` | `admin` | `[host:]port` (a bare port listens on HOST's address). */
function metricsConfig(env: Env, host: string): MetricsConfig {
  const raw = env.MLGIT_METRICS ?? '';
  if (raw === '' || raw === 'off') return { mode: 'off' };
  if (raw === 'admin') return { mode: 'admin' };
  const match = /^(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(raw);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new ConfigError(`MLGIT_METRICS must be off, admin, or [host:]port for a listener of its own, got "${raw}"`);
  return { mode: 'listen', host: match[1]?.replace(/^\[|\]$/g, '') ?? host, port };
}

export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const jwtSecret = env.MLGIT_JWT_SECRET || null;
  if (jwtSecret !== null && jwtSecret.length < 32) {
    throw new ConfigError('MLGIT_JWT_SECRET must be at least 32 characters');
  }
  const secretKey = env.MLGIT_SECRET_KEY || null;
  if (secretKey !== null && secretKey.length < 32) throw new ConfigError('MLGIT_SECRET_KEY must be at least 32 characters');
  const redisPrefix = env.MLGIT_REDIS_PREFIX || 'mlgit';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(redisPrefix)) throw new ConfigError('MLGIT_REDIS_PREFIX must be 1-64 letters, digits, _ . -');
  // Loopback unless told otherwise: a fresh install is reachable only from this machine until
  // its admin decides to serve a network (HOST=0.0.0.0).
  const host = env.HOST || '127.0.0.1';
  const config: Config = {
    port: int(env, 'PORT', 3000),
    host,
    dataDir: path.resolve(env.MLGIT_DATA_DIR || './data'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    publicUrl: url(env, 'MLGIT_PUBLIC_URL', ['http:', 'https:']),
    adminPassword: env.MLGIT_ADMIN_PASSWORD || null,
    jwtSecret,
    jwtTtlSeconds: int(env, 'MLGIT_JWT_TTL_SECONDS', 3600, 60),
    // Closed by default: whoever signs up can push code that mlgit runs.
    signup: oneOf(env, 'MLGIT_SIGNUP', ['open', 'admin'] as const, 'admin'),
    logLevel: oneOf(env, 'MLGIT_LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    git: {
      maxUploadRequestBytes: int(env, 'MLGIT_GIT_MAX_UPLOAD_REQUEST_BYTES', 10 * MiB, 1024),
      maxPushBytes: int(env, 'MLGIT_GIT_MAX_PUSH_BYTES', 10 * 1024 * MiB, 1024),
      idleTimeoutMs: int(env, 'MLGIT_GIT_IDLE_TIMEOUT_MS', 120_000, 1000),
      totalTimeoutMs: int(env, 'MLGIT_GIT_TOTAL_TIMEOUT_MS', 3_600_000, 1000),
      maxPerRepo: int(env, 'MLGIT_GIT_MAX_PER_REPO', 64, 1),
      maxPerClient: int(env, 'MLGIT_GIT_MAX_PER_CLIENT', 32, 1),
    },
    authFailures: {
      max: int(env, 'MLGIT_AUTH_MAX_FAILURES', 20, 1),
      windowSeconds: int(env, 'MLGIT_AUTH_FAILURE_WINDOW_SECONDS', 300, 1),
    },
    trustedProxies: addressList(env, 'MLGIT_TRUSTED_PROXIES'),
    maintenanceDelayMs: int(env, 'MLGIT_MAINTENANCE_DELAY_MS', 2000),
    pushOutbox: {
      graceMs: int(env, 'MLGIT_PUSH_OUTBOX_GRACE_MS', 30_000),
      intervalMs: int(env, 'MLGIT_PUSH_OUTBOX_INTERVAL_MS', 10_000, 100),
    },
    lfs: {
      maxObjectBytes: int(env, 'MLGIT_LFS_MAX_OBJECT_BYTES', 50 * 1024 * MiB, 1),
      actionTtlSeconds: int(env, 'MLGIT_LFS_ACTION_TTL_SECONDS', 900, 10),
      maxBatchObjects: int(env, 'MLGIT_LFS_MAX_BATCH_OBJECTS', 1000, 100),
    },
    s3: s3Config(env),
    runs: runsConfig(env),
    redisPrefix,
    secretKey,
    webhooks: webhookConfig(env),
    deploy: deployConfig(env, (message) => new ConfigError(message)),
    metrics: metricsConfig(env, host),
    tracing: oneOf(env, 'MLGIT_TRACING', ['off', 'otlp'] as const, 'off'),
    ...overrides,
  };
  // With open sign-up anyone can push code that runs on the runner: never without a sandbox.
  if (config.runs.unsafeNoSandbox && config.signup === 'open') {
    throw new ConfigError('MLGIT_UNSAFE_NO_SANDBOX=true is refused while MLGIT_SIGNUP=open: anyone could sign up and run code unsandboxed on this machine');
  }
  return Object.freeze(config);
}
