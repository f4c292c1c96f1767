// Deployments' domain types and the checks of a deploy request (issue 11, "Serving").
import { COMMAND_OR_PORT, quantityBytes, RESERVED_DEPLOYMENT_ENV } from '../../../schema/manifest.ts';
import { invalid } from '../errors.ts';
import { aliasName, modelName } from '../registry/names.ts';

/** `starting` until the model answers its health check, `ready` while it serves, `failing` between a crash and its restart, `stopped` when idle or removed. */
export type DeploymentState = 'starting' | 'ready' | 'failing' | 'stopped';

export interface Deployment {
  readonly id: number;
  readonly repoId: number;
  readonly model: string;
  readonly alias: string;
  /** null: the image's own entrypoint and command run (docker runtime; `port` is then set). */
  readonly command: string | null;
  readonly image: string;
  /** The TCP port the model server listens on inside its own network namespace (relayed); null: it listens on $MLGIT_SERVE_SOCKET. */
  readonly port: number | null;
  readonly healthPath: string;
  readonly replicas: number;
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly env: Readonly<Record<string, string>>;
  readonly public: boolean;
  /** The `deployments:` entry of the default branch's mlproject.yaml that owns it; null: made through the API. */
  readonly manifestEntry: string | null;
  readonly createdBy: number | null;
  readonly createdAt: Date;
}

/** One model server of a deployment; `index` counts from 0 within its version's set. */
export interface ReplicaStatus {
  readonly index: number;
  readonly version: number;
  readonly state: Exclude<DeploymentState, 'stopped'>;
  readonly restarts: number;
  readonly message: string | null;
}

/** What the supervisor says about a deployment now. */
export interface DeploymentStatus {
  readonly state: DeploymentState;
  /** The version answering requests (null before the first start). */
  readonly version: number | null;
  /** Set while a new version is being started beside the serving one (blue/green). */
  readonly switchingTo: number | null;
  readonly message: string | null;
  readonly restarts: number;
  /** The serving version's replicas, then those of a version starting beside them. */
  readonly replicas: readonly ReplicaStatus[];
}

export interface DeploySpec {
  model: string;
  alias: string;
  command: string | null;
  image: string | null;
  port: number | null;
  healthPath: string;
  replicas: number;
  cpus: number;
  memoryBytes: number;
  env: Record<string, string>;
  public: boolean;
}

/** Whether two specs start the same model server (alias, access and ownership aside). */
export function launchesAlike(a: Deployment, b: Deployment): boolean {
  return (
    a.command === b.command &&
    a.image === b.image &&
    a.port === b.port &&
    a.healthPath === b.healthPath &&
    a.replicas === b.replicas &&
    a.cpus === b.cpus &&
    a.memoryBytes === b.memoryBytes &&
    JSON.stringify(Object.entries(a.env).sort()) === JSON.stringify(Object.entries(b.env).sort())
  );
}

/** Whether nothing the owner decides differs between two specs. */
export function sameSpec(a: Deployment, b: Deployment): boolean {
  return launchesAlike(a, b) && a.alias === b.alias && a.public === b.public && a.manifestEntry === b.manifestEntry;
}

export const DEFAULT_ALIAS = 'production';
export const DEFAULT_HEALTH_PATH = '/v2/health/ready';
const DEFAULT_CPUS = 1;
/** The process runtime's memory limit is an address-space limit: numpy and a thread per connection need room. */
const DEFAULT_MEMORY_BYTES = 2 * 1024 ** 3;
const MAX_COMMAND_CHARS = 4096;
const MAX_ENV = 64;
const KNOWN = new Set(['model', 'alias', 'command', 'image', 'health_path', 'replicas', 'resources', 'env', 'public', 'port']);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const IMAGE_REFERENCE = /^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$/;
const HEALTH_PATH = /^\/[A-Za-z0-9._~/-]{0,255}$/;

/**
 * Checks a deploy request's body and lists every problem at once. Limits against the server's
 * caps are checked by the service (it knows them).
 */
export function parseDeploySpec(body: unknown): DeploySpec {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('expected a JSON object {model, alias, command, ...}');
  const b = body as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(b)) if (!KNOWN.has(key)) problems.push(`unknown field ${JSON.stringify(key)}`);
  const text = (key: string, fallback: string | null): string | null => {
    const value = b[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || value === '') {
      problems.push(`${key} must be a non-empty string`);
      return fallback;
    }
    return value;
  };
  const checked = <T>(check: () => T): T | null => {
    try {
      return check();
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
      return null;
    }
  };
  const model = text('model', null);
  if (model === null && b.model === undefined) problems.push('model is required');
  const alias = text('alias', DEFAULT_ALIAS) ?? DEFAULT_ALIAS;
  if (model !== null) checked(() => modelName(model));
  checked(() => aliasName(alias));
  const command = text('command', null);
  const port = b.port ?? null;
  if (port !== null && !(typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535)) problems.push('port must be a TCP port, 1 to 65535');
  if (command === null && b.command === undefined && port === null) problems.push(COMMAND_OR_PORT);
  if (command !== null && (command.length > MAX_COMMAND_CHARS || command.includes('\0'))) problems.push(`command must be at most ${MAX_COMMAND_CHARS} characters with no NUL`);
  const image = text('image', null);
  if (image !== null && !IMAGE_REFERENCE.test(image)) problems.push('image must be an image reference such as localhost/mlgit-python:bookworm');
  const healthPath = text('health_path', DEFAULT_HEALTH_PATH) ?? DEFAULT_HEALTH_PATH;
  if (!HEALTH_PATH.test(healthPath) || healthPath.split('/').some((s) => s === '..' || s === '.')) problems.push('health_path must be an absolute path such as /v2/health/ready');
  const replicas = b.replicas ?? 1;
  if (typeof replicas !== 'number' || !Number.isSafeInteger(replicas) || replicas < 1) problems.push('replicas must be a whole number of at least 1');
  if (b.public !== undefined && typeof b.public !== 'boolean') problems.push('public must be true or false');
  const { cpus, memoryBytes } = resources(b.resources, problems);
  const env = environment(b.env, problems);
  if (problems.length > 0) throw invalid(`invalid deployment: ${problems.join('; ')}`);
  return { model: model!, alias, command, image, port: port as number | null, healthPath, replicas: replicas as number, cpus, memoryBytes, env, public: b.public === true };
}

function resources(value: unknown, problems: string[]): { cpus: number; memoryBytes: number } {
  if (value === undefined) return { cpus: DEFAULT_CPUS, memoryBytes: DEFAULT_MEMORY_BYTES };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push('resources must be an object {cpu, memory}');
    return { cpus: DEFAULT_CPUS, memoryBytes: DEFAULT_MEMORY_BYTES };
  }
  const r = value as Record<string, unknown>;
  for (const key of Object.keys(r)) if (key !== 'cpu' && key !== 'memory') problems.push(`unknown field resources.${key}`);
  let cpus = DEFAULT_CPUS;
  if (r.cpu !== undefined) {
    if (typeof r.cpu === 'number' && Number.isFinite(r.cpu) && r.cpu > 0) cpus = r.cpu;
    else problems.push('resources.cpu must be a positive number');
  }
  let memoryBytes = DEFAULT_MEMORY_BYTES;
  if (r.memory !== undefined) {
    const bytes = typeof r.memory === 'string' ? quantityBytes(r.memory) : null;
    if (bytes !== null && bytes > 0) memoryBytes = bytes;
    else problems.push('resources.memory must be a quantity such as 512Mi or 1Gi');
  }
  return { cpus, memoryBytes };
}

function environment(value: unknown, problems: string[]): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push('env must be an object of strings');
    return {};
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_ENV) problems.push(`env may hold at most ${MAX_ENV} variables`);
  for (const [name, v] of entries) {
    if (!ENV_NAME.test(name)) problems.push(`env name ${JSON.stringify(name)} is not a variable name`);
    else if (RESERVED_DEPLOYMENT_ENV.includes(name)) problems.push(`env ${name} is set by mlgit`);
    if (typeof v !== 'string' || v.includes('\0')) problems.push(`env ${name} must be a string with no NUL`);
  }
  return Object.fromEntries(entries.filter(([, v]) => typeof v === 'string')) as Record<string, string>;
}
