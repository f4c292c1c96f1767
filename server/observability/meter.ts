// What the server measures, as calls that cost nothing until metrics are configured on: the
// code paths call these methods, and only `MLGIT_METRICS` loads prom-client (prometheus-meter.ts)
// and installs a meter that records. Kept free of imports so every layer may call it.

export type GitOperation = 'clone' | 'fetch' | 'push';

/** One HTTP exchange as the metrics see it: the route pattern (never the raw URL) and its bytes. */
export interface HttpExchange {
  readonly route: string;
  readonly method: string;
  readonly status: number;
  readonly seconds: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** The parsed JSON body, when Fastify parsed one (LFS batch sizes are read from it). */
  readonly body: unknown;
  /** Set by the git routes: which git operation this exchange was. */
  readonly git: GitOperation | undefined;
}

export interface Meter {
  http(exchange: HttpExchange): void;
  /** A git request refused because the repository's or the client's git slots were all taken. */
  gitSlotRefused(scope: 'repo' | 'client'): void;
  webhookDelivery(result: 'delivered' | 'http_error' | 'failed' | 'refused'): void;
  runFinished(job: string, status: string, seconds: number | null): void;
}

const silent: Meter = {
  http: () => {},
  gitSlotRefused: () => {},
  webhookDelivery: () => {},
  runFinished: () => {},
};

let active: Meter = silent;

/** The process-wide meter (silent unless metrics are on). */
export function meter(): Meter {
  return active;
}

/** Installs the recording meter (server/app.ts, when metrics are configured). */
export function installMeter(recording: Meter): void {
  active = recording;
}

/** Puts the silent meter back, unless another app of this process has installed its own since. */
export function uninstallMeter(recording: Meter): void {
  if (active === recording) active = silent;
}

const gitOperations = new WeakMap<object, GitOperation>();

/** The git routes name the operation of a request (by its raw request object), for http(). */
export function tagGitOperation(rawRequest: object, operation: GitOperation): void {
  gitOperations.set(rawRequest, operation);
}

export function gitOperationOf(rawRequest: object): GitOperation | undefined {
  return gitOperations.get(rawRequest);
}
