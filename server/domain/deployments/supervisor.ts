// Keeps one deployment serving: starts its model server, restarts it with backoff when it
// crashes, starts a new version beside the old one when the alias moves and switches traffic
// only once the new one is healthy (blue/green; the old one drains, then stops), and stops it
// when idle (the next request starts it again: a cold start).
import type { ModelVersion } from '../registry/model.ts';
import type { ModelServer, ModelServerLauncher } from './launcher.ts';
import type { Deployment, DeploymentState, DeploymentStatus } from './model.ts';

export interface SupervisorOptions {
  /** Stop after this long without a request (null: never). */
  idleStopMs: number | null;
  /** Restart delays: initial, doubled per consecutive failure, capped. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** A replica ready at least this long before it crashed starts the backoff afresh. */
  stableMs: number;
  /** The longest an old version's requests may take to finish before it is stopped anyway. */
  drainTimeoutMs: number;
  /** The longest a request waits for a starting (or cold) deployment. */
  startWaitMs: number;
}

export interface SupervisorDeps {
  launcher: ModelServerLauncher;
  /** The version the deployment's alias names now. */
  resolve(deployment: Deployment): Promise<ModelVersion>;
  /** Lines mlgit writes into the deployment's log (starts, crashes, switches) and the model's own output. */
  output(deployment: Deployment, chunk: Buffer): Promise<void>;
  /** Called on every change of status, in order; `previous` is the state before it. */
  onStatus(deployment: Deployment, status: DeploymentStatus, previous: DeploymentState): void;
  log: { warn(obj: object, msg: string): void };
}

/** A request's hold on the replica serving it: released when the answer is done. */
export interface Lease {
  readonly socketPath: string;
  readonly version: number;
  /** Milliseconds this request waited for the model server to start (a cold start); null when it was running. */
  readonly coldStartMs: number | null;
  release(): void;
}

/** The deployment cannot answer now (crashed and waiting to restart, or did not start in time). */
export class Unavailable extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

interface Replica {
  readonly server: ModelServer;
  inflight: number;
  retired: boolean;
  readyAt: number;
  drained: (() => void) | null;
}

export class DeploymentSupervisor {
  private active: Replica | null = null;
  private status: DeploymentStatus;
  private attempts = 0;
  private retryAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly idleTimer: NodeJS.Timeout | undefined;
  private lastUsed = Date.now();
  private closed = false;
  /** Starts, switches and stops run one at a time, in order. */
  private chain: Promise<void> = Promise.resolve();
  private waiters: { resolve: (replica: Replica) => void; reject: (error: Error) => void }[] = [];
  private readonly retiring = new Set<Promise<void>>();

  constructor(
    readonly deployment: Deployment,
    private readonly deps: SupervisorDeps,
    private readonly options: SupervisorOptions,
    initial: { idle: boolean; restarts: number; version: number | null },
  ) {
    this.status = { state: initial.idle ? 'stopped' : 'starting', version: initial.version, switchingTo: null, message: initial.idle ? idleMessage(options.idleStopMs) : null, restarts: initial.restarts };
    if (!initial.idle) this.enqueue(() => this.bringUp());
    if (options.idleStopMs !== null) {
      this.idleTimer = setInterval(() => this.stopIfIdle(), Math.max(100, Math.min(5000, Math.floor(options.idleStopMs / 4))));
      this.idleTimer.unref();
    }
  }

  current(): DeploymentStatus {
    return this.status;
  }

  /** The alias may name another version now: start it beside the serving one and switch. */
  reconcile(): void {
    this.enqueue(async () => {
      if (this.status.state === 'stopped') return; // a cold start resolves the alias afresh
      const version = await this.deps.resolve(this.deployment);
      if (this.active?.server.version === version.version) return;
      if (this.active === null) await this.bringUp(version);
      else await this.switchTo(version);
    });
  }

  /** A replica to send one request to; waits for a starting deployment and wakes a stopped one. */
  async lease(): Promise<Lease> {
    if (this.closed) throw new Unavailable('the deployment is being removed', 5);
    this.lastUsed = Date.now();
    if (this.active !== null) return this.hold(this.active, null);
    if (this.status.state === 'failing') throw new Unavailable(this.status.message ?? 'the model server is failing', Math.max(1, Math.ceil((this.retryAt - Date.now()) / 1000)));
    const began = Date.now();
    if (this.status.state === 'stopped') this.wake();
    const replica = await this.waitForReplica();
    return this.hold(replica, Date.now() - began);
  }

  /** Stops everything for good (deployment removed, server shutting down). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.idleTimer);
    this.enqueue(async () => {
      const active = this.active;
      this.active = null;
      if (active) await this.retire(active);
      this.setStatus({ state: 'stopped', switchingTo: null, message: 'removed' });
    });
    await this.chain;
    await Promise.all([...this.retiring]);
    this.rejectWaiters(new Unavailable('the deployment was removed', 5));
  }

  private hold(replica: Replica, coldStartMs: number | null): Lease {
    replica.inflight += 1;
    let released = false;
    return {
      socketPath: replica.server.socketPath,
      version: replica.server.version,
      coldStartMs,
      release: () => {
        if (released) return;
        released = true;
        replica.inflight -= 1;
        this.lastUsed = Date.now();
        if (replica.inflight === 0) replica.drained?.();
      },
    };
  }

  private wake(): void {
    this.setStatus({ state: 'starting', message: 'cold start: a request arrived while stopped' });
    this.enqueue(() => this.bringUp());
  }

  private waitForReplica(): Promise<Replica> {
    return new Promise<Replica>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Unavailable(`the model server did not become ready within ${Math.round(this.options.startWaitMs / 1000)} s`, 5));
      }, this.options.startWaitMs);
      const waiter = {
        resolve: (replica: Replica) => {
          clearTimeout(timer);
          resolve(replica);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.push(waiter);
    });
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((err: unknown) => {
      this.deps.log.warn({ err, deployment: this.deployment.id }, 'deployment step failed');
      this.failed(`could not start: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  /** Starts a model server (the alias's version unless given) and makes it the serving one. */
  private async bringUp(given?: ModelVersion): Promise<void> {
    // A retry and an alias move may both ask; the first one up serves.
    if (this.closed || this.active !== null) return;
    const version = given ?? (await this.deps.resolve(this.deployment));
    if (this.status.state !== 'starting') this.setStatus({ state: 'starting', message: null });
    const replica = await this.launchReady(version);
    if (replica === null) return;
    this.active = replica;
    clearTimeout(this.retryTimer);
    this.setStatus({ state: 'ready', version: version.version, switchingTo: null, message: null });
    for (const waiter of this.waiters.splice(0)) waiter.resolve(replica);
  }

  /** Blue/green: the new version starts beside the serving one; traffic moves once it is healthy. */
  private async switchTo(version: ModelVersion): Promise<void> {
    this.setStatus({ switchingTo: version.version, message: `starting version ${version.version} beside version ${this.status.version}` });
    const next = await this.launchReady(version, true);
    if (next === null) return;
    const old = this.active;
    this.active = next;
    this.setStatus({ state: 'ready', version: version.version, switchingTo: null, message: null });
    await this.note(`switched traffic to version ${version.version}${old ? `; version ${old.server.version} drains and stops` : ''}`);
    if (old) this.retireInBackground(old);
  }

  /** A started, healthy replica, or null when it failed (then a retry is scheduled and said so). */
  private async launchReady(version: ModelVersion, beside = false): Promise<Replica | null> {
    await this.note(`starting version ${version.version} (${this.deployment.alias})`);
    const server = await this.deps.launcher.launch({ deployment: this.deployment, version, onOutput: (chunk) => this.deps.output(this.deployment, chunk) });
    const replica: Replica = { server, inflight: 0, retired: false, readyAt: 0, drained: null };
    void server.exited.then((how) => this.exitedOnItsOwn(replica, how));
    try {
      await server.ready;
    } catch (error) {
      replica.retired = true;
      await server.stop();
      const why = error instanceof Error ? error.message : String(error);
      if (beside && this.active !== null) {
        this.setStatus({ switchingTo: null, message: `version ${version.version} did not become ready (${why}); version ${this.active.server.version} keeps serving` });
        this.scheduleRetry(() => this.reconcile());
      } else {
        this.failed(`version ${version.version} did not become ready: ${why}`);
      }
      return null;
    }
    if (this.closed) {
      replica.retired = true;
      await server.stop();
      return null;
    }
    replica.readyAt = Date.now();
    await this.note(`version ${version.version} is ready`);
    return replica;
  }

  private exitedOnItsOwn(replica: Replica, how: string): void {
    if (replica.retired || this.closed) return;
    replica.retired = true;
    // Nothing left to stop, but its files go.
    void replica.server.stop().catch((err: unknown) => this.deps.log.warn({ err, deployment: this.deployment.id }, 'could not clean up after a model server'));
    if (this.active !== replica) return;
    this.active = null;
    if (Date.now() - replica.readyAt >= this.options.stableMs) this.attempts = 0;
    void this.note(`the model server exited (${how})`);
    this.setStatus({ restarts: this.status.restarts + 1 });
    this.failed(`the model server exited (${how})`);
  }

  /** State `failing` and a restart after the backoff. */
  private failed(message: string): void {
    if (this.closed) return;
    const delay = Math.min(this.options.backoffMaxMs, this.options.backoffInitialMs * 2 ** this.attempts);
    this.attempts += 1;
    this.setStatus({ state: 'failing', switchingTo: null, message: `${message}; restarting in ${Math.ceil(delay / 1000)} s` });
    this.rejectWaiters(new Unavailable(message, Math.ceil(delay / 1000)));
    this.scheduleRetry(() => this.enqueue(() => this.bringUp()), delay);
  }

  private scheduleRetry(retry: () => void, delay = this.options.backoffInitialMs): void {
    clearTimeout(this.retryTimer);
    this.retryAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => {
      if (!this.closed) retry();
    }, delay);
    this.retryTimer.unref();
  }

  private stopIfIdle(): void {
    const active = this.active;
    if (this.closed || active === null || this.status.switchingTo !== null || active.inflight > 0) return;
    if (Date.now() - this.lastUsed < (this.options.idleStopMs ?? Infinity)) return;
    this.enqueue(async () => {
      if (this.active !== active || active.inflight > 0) return;
      this.active = null;
      this.setStatus({ state: 'stopped', message: idleMessage(this.options.idleStopMs) });
      await this.note('stopped: idle');
      await this.retire(active);
    });
  }

  private retireInBackground(replica: Replica): void {
    const done = this.retire(replica).catch((err: unknown) => this.deps.log.warn({ err, deployment: this.deployment.id }, 'could not stop a drained model server'));
    this.retiring.add(done);
    void done.finally(() => this.retiring.delete(done));
  }

  /** Waits for the replica's requests to finish (at most drainTimeoutMs), then stops it. */
  private async retire(replica: Replica): Promise<void> {
    replica.retired = true;
    if (replica.inflight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.drainTimeoutMs);
        replica.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await replica.server.stop();
  }

  private rejectWaiters(error: Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  private note(line: string): Promise<void> {
    return this.deps.output(this.deployment, Buffer.from(`[mlgit] ${new Date().toISOString()} ${line}\n`)).catch(() => {});
  }

  private setStatus(change: Partial<DeploymentStatus>): void {
    const previous = this.status.state;
    this.status = { ...this.status, ...change };
    this.deps.onStatus(this.deployment, this.status, previous);
  }
}

function idleMessage(idleStopMs: number | null): string {
  return `idle for ${Math.round((idleStopMs ?? 0) / 1000)} s; the next request starts it again`;
}
