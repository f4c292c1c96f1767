// Deployments' settings (MLGIT_DEPLOY_*), parsed with the rest of the config (server/config.ts,
// which passes its ConfigError in: no import cycle).
import { DEFAULT_RELAY_IMAGE } from '../runner/runtime/port-relay.ts';
import { durationSeconds } from '../schema/manifest.ts';
import { IMAGE_REFERENCE } from './domain/deployments/model.ts';

export interface DeployConfig {
  /** MLGIT_DEPLOY_IDLE_STOP: stop a deployment after this long without a request (null: never). */
  readonly idleStopMs: number | null;
  readonly maxBodyBytes: number;
  readonly maxResponseBytes: number;
  /** Deadline of a request's body, and separately of the model's whole answer. */
  readonly timeoutMs: number;
  /** How long a model server may take to answer its health check. */
  readonly startTimeoutMs: number;
  /** MLGIT_DEPLOY_MAX_REPLICAS: the most replicas one deployment may ask for (each is a model server on this host). */
  readonly maxReplicas: number;
  /** MLGIT_DEPLOY_HEALTH_INTERVAL_MS: how often each ready replica's health path is asked; three failures in a row restart it. */
  readonly healthIntervalMs: number;
  /** MLGIT_DEPLOY_RELAY_IMAGE: the docker runtime's image for the relay of a deployment's `port` (any image with python3). */
  readonly relayImage: string;
}

type Env = Record<string, string | undefined>;
const MiB = 1024 * 1024;

export function deployConfig(env: Env, fail: (message: string) => Error): DeployConfig {
  return {
    idleStopMs: idleStop(env.MLGIT_DEPLOY_IDLE_STOP, fail),
    maxBodyBytes: positive(env, fail, 'MLGIT_DEPLOY_MAX_BODY_BYTES', 10 * MiB),
    maxResponseBytes: positive(env, fail, 'MLGIT_DEPLOY_MAX_RESPONSE_BYTES', 64 * MiB),
    timeoutMs: positive(env, fail, 'MLGIT_DEPLOY_TIMEOUT_MS', 60_000),
    startTimeoutMs: positive(env, fail, 'MLGIT_DEPLOY_START_TIMEOUT_MS', 120_000),
    maxReplicas: positive(env, fail, 'MLGIT_DEPLOY_MAX_REPLICAS', 4),
    healthIntervalMs: positive(env, fail, 'MLGIT_DEPLOY_HEALTH_INTERVAL_MS', 10_000),
    relayImage: relayImage(env.MLGIT_DEPLOY_RELAY_IMAGE, fail),
  };
}

function idleStop(value: string | undefined, fail: (message: string) => Error): number | null {
  if (value === undefined || value === '' || value === 'off' || value === '0') return null;
  const seconds = durationSeconds(value);
  if (seconds === null || seconds <= 0) throw fail(`MLGIT_DEPLOY_IDLE_STOP must be a duration such as 15m, 1h or 90s (or off), got ${JSON.stringify(value)}`);
  return seconds * 1000;
}

function relayImage(value: string | undefined, fail: (message: string) => Error): string {
  if (value === undefined || value === '') return DEFAULT_RELAY_IMAGE;
  if (!IMAGE_REFERENCE.test(value)) throw fail(`MLGIT_DEPLOY_RELAY_IMAGE must be an image reference such as ${DEFAULT_RELAY_IMAGE}, got ${JSON.stringify(value)}`);
  return value;
}

function positive(env: Env, fail: (message: string) => Error, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw fail(`${name} must be a positive whole number, got ${JSON.stringify(raw)}`);
  return value;
}
