// Keeps one deployment serving: starts its replicas (model servers of one version), spreads
// requests over the ready ones in turn, restarts each crashed replica on its own with backoff,
// starts a new set beside the old one when the alias (or the spec) changes and switches traffic
// only once every new replica is healthy (blue/green; the old ones drain, then stop), and stops
// them when idle (the next request starts them again: a cold start).
import type { ModelVersion } from '../registry/model.ts';
import type { ModelServer, ModelServerLauncher } from './launcher.ts';
import { launchesAlike, type Deployment, type DeploymentState, type DeploymentStatus, type ReplicaStatus } from './model.ts';

export interface SupervisorOptions {
  /** Stop after this long without a request (null: never). */
  idleStopMs: number | null;
  /** Restart delays: initial, doubled per consecutive failure, capped. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** A replica ready at least this long before it crashed starts the backoff afresh. */
  stableMs: number;
  /** The longest an old replica's requests may take to finish before it is stopped anyway. */
  drainTimeoutMs: number;
  /** The longest a request waits for a starting (or cold) deployment. */
  startWaitMs: number;
  /** How often each ready replica's health path is asked; HEALTH_FAILURES failures in a row restart it. */
  healthIntervalMs: number;
}

/** Consecutive failed health checks after which a ready replica is restarted (one slow answer is not enough). */
const HEALTH_FAILURES = 3;

export interface SupervisorDeps {
  launcher: ModelServerLauncher;
  /** The version the deployment's alias names now. */
  resolve(deployment: Deployment): Promise<ModelVersion>;
  /** Lines mlgit writes into the deployment's log (starts, crashes, switches) and the model's own output. */
  output(deployment: Deployment, chunk: Buffer): Promise<void>;
  /** Called on changes of status, in order; `previous` is the state before it. */
  onStatus(deployment: Deployment, status: DeploymentStatus, previous: DeploymentState): void;
  log: { warn(obj: object, msg: string): void };
}

/** A request's hold on the replica serving it: released when the answer is done. */
export interface Lease {
  /** Which replica serves it: a retry after a lost connection asks for another one. */
  readonly replicaId: number;
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
  readonly id: number;
  readonly server: ModelServer;
  inflight: number;
  retired: boolean;
  readyAt: number;
  drained: (() => void) | null;
  /** Health checks failed in a row. */
  failedChecks: number;
}

/** One place in a set of replicas: its model server while it serves, and its own restart backoff. */
interface Slot {
  readonly index: number;
  /** Set while its model server is ready (state `ready`). */
  replica: Replica | null;
  state: ReplicaStatus['state'];
  message: string | null;
  restarts: number;
  attempts: number;
  timer: NodeJS.Timeout | undefined;
}

/** The replicas of one version, started with one spec. */
interface ReplicaSet {
  readonly deployment: Deployment;
  readonly version: ModelVersion;
  readonly slots: Slot[];
}

export class DeploymentSupervisor {
  /** The spec to run; a set started with an older one is replaced (blue/green). */
  private desired: Deployment;
  private serving: ReplicaSet | null = null;
  /** A set being started: the first one, or a new version's beside the serving one. */
  private pending: ReplicaSet | null = null;
  private status: Omit<DeploymentStatus, 'replicas'>;
  /** What the last switch said while the serving set is whole (a new version that did not start). */
  private switchNote: string | null = null;
  private attempts = 0;
  private retryAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly idleTimer: NodeJS.Timeout | undefined;
  private readonly healthTimer: NodeJS.Timeout;
  private checking = false;
  private lastUsed = Date.now();
  private closed = false;
  private replicaIds = 0;
  private turn = 0;
  /** Starts, switches, restarts and stops run one at a time, in order. */
  private chain: Promise<void> = Promise.resolve();
  private waiters: { resolve: (replica: Replica) => void; reject: (error: Error) => void }[] = [];
  private readonly retiring = new Set<Promise<void>>();

  constructor(
    deployment: Deployment,
    private readonly deps: SupervisorDeps,
    private readonly options: SupervisorOptions,
    initial: { idle: boolean; restarts: number; version: number | null },
  ) {
    this.desired = deployment;
    this.status = { state: initial.idle ? 'stopped' : 'starting', version: initial.version, switchingTo: null, message: initial.idle ? idleMessage(options.idleStopMs) : null, restarts: initial.restarts };
    if (!initial.idle) this.enqueue(() => this.bringUp());
    if (options.idleStopMs !== null) {
      this.idleTimer = setInterval(() => this.stopIfIdle(), Math.max(100, Math.min(5000, Math.floor(options.idleStopMs / 4))));
      this.idleTimer.unref();
    }
    this.healthTimer = setInterval(() => void this.checkHealth(), options.healthIntervalMs);
    this.healthTimer.unref();
  }

  get deployment(): Deployment {
    return this.desired;
  }

  current(): DeploymentStatus {
    return { ...this.status, replicas: [...replicaStatuses(this.serving), ...replicaStatuses(this.pending)] };
  }

  /** The alias may name another version now: start it beside the serving one and switch. */
  reconcile(): void {
    this.enqueue(async () => {
      if (this.status.state === 'stopped') return; // a cold start resolves the alias afresh
      const version = await this.deps.resolve(this.desired);
      const set = this.serving;
      if (set !== null && set.version.version === version.version && launchesAlike(set.deployment, this.desired)) return;
      if (set === null) await this.bringUp(version);
      else await this.switchTo(version);
    });
  }

  /**
   * The spec changed (the manifest's entry): a new set with it replaces the serving one once all
   * of it is ready; a change of alias only may name another version; access changes apply at once.
   */
  update(deployment: Deployment): void {
    this.desired = deployment;
    this.reconcile();
  }

  /**
   * A replica to send one request to, the ready ones in turn; waits for a starting deployment and
   * wakes a stopped one. With `avoid`, another ready replica than that one, or Unavailable.
   */
  async lease(avoid?: number): Promise<Lease> {
    if (this.closed) throw new Unavailable('the deployment is being removed', 5);
    this.lastUsed = Date.now();
    const ready = this.pick(avoid);
    if (ready !== null) return this.hold(ready, null);
    if (avoid !== undefined) throw new Unavailable('no other replica is ready', 1);
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
    clearInterval(this.healthTimer);
    this.enqueue(async () => {
      const set = this.serving;
      this.serving = null;
      if (set) await Promise.all(this.detach(set).map((replica) => this.retire(replica)));
      this.setStatus({ state: 'stopped', switchingTo: null, message: 'removed' });
    });
    await this.chain;
    await Promise.all([...this.retiring]);
    this.rejectWaiters(new Unavailable('the deployment was removed', 5));
  }

  private pick(avoid: number | undefined): Replica | null {
    const ready = (this.serving?.slots ?? []).flatMap((slot) => (slot.replica !== null && slot.replica.id !== avoid ? [slot.replica] : []));
    if (ready.length === 0) return null;
    this.turn = (this.turn + 1) % 1_000_000;
    return ready[this.turn % ready.length]!;
  }

  private hold(replica: Replica, coldStartMs: number | null): Lease {
    replica.inflight += 1;
    let released = false;
    return {
      replicaId: replica.id,
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

  private wakeWaiters(): void {
    if (this.waiters.length === 0) return;
    for (const waiter of this.waiters.splice(0)) {
      const replica = this.pick(undefined);
      if (replica) waiter.resolve(replica);
    }
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((err: unknown) => {
      this.deps.log.warn({ err, deployment: this.desired.id }, 'deployment step failed');
      const why = err instanceof Error ? err.message : String(err);
      if (this.serving === null) return this.failed(`could not start: ${why}`);
      // The serving set keeps serving; the step (following the alias) is tried again.
      this.switchNote = `could not follow ${this.desired.alias}: ${why}`;
      this.refresh();
      this.scheduleRetry(() => this.reconcile());
    });
  }

  /** Starts a set of the alias's version (unless given) and makes it the serving one. */
  private async bringUp(given?: ModelVersion): Promise<void> {
    // A retry and an alias move may both ask; the first one up serves.
    if (this.closed || this.serving !== null) return;
    const version = given ?? (await this.deps.resolve(this.desired));
    if (this.status.state !== 'starting') this.setStatus({ state: 'starting', message: null });
    const set = await this.startSet(this.desired, version);
    if (set === null) return;
    const failed = set.slots.filter((slot) => slot.replica === null);
    if (failed.length === set.slots.length) return this.failed(failed[0]?.message ?? `version ${version.version} did not start`);
    clearTimeout(this.retryTimer);
    this.serving = set;
    this.switchNote = null;
    for (const slot of failed) this.restartLater(set, slot, slot.message ?? 'did not start');
    this.setStatus({ switchingTo: null });
    this.refresh();
    this.wakeWaiters();
  }

  /** Blue/green: a new set starts beside the serving one; traffic moves once every new replica is healthy. */
  private async switchTo(version: ModelVersion): Promise<void> {
    const from = this.serving!.version.version;
    const what = from === version.version ? `version ${version.version} with the new settings` : `version ${version.version}`;
    this.setStatus({ switchingTo: version.version, message: `starting ${what} beside version ${from}` });
    const next = await this.startSet(this.desired, version);
    if (next === null) return;
    const failed = next.slots.filter((slot) => slot.replica === null);
    if (failed.length > 0) {
      for (const replica of this.detach(next)) this.retireInBackground(replica);
      this.switchNote = `${what}: ${failed.length} of ${next.slots.length} replicas did not become ready (${failed[0]!.message}); version ${from} keeps serving`;
      this.setStatus({ switchingTo: null });
      this.refresh();
      this.scheduleRetry(() => this.reconcile());
      return;
    }
    const old = this.serving!;
    this.serving = next;
    this.switchNote = null;
    this.setStatus({ switchingTo: null });
    this.refresh();
    await this.note(`switched traffic to ${what}; the replicas of version ${from} drain and stop`);
    for (const replica of this.detach(old)) this.retireInBackground(replica);
    this.wakeWaiters();
  }

  /** Starts every replica of a new set side by side; null when the deployment was closed meanwhile. */
  private async startSet(deployment: Deployment, version: ModelVersion): Promise<ReplicaSet | null> {
    const set: ReplicaSet = { deployment, version, slots: Array.from({ length: deployment.replicas }, (_, index) => newSlot(index)) };
    this.pending = set;
    try {
      await Promise.all(set.slots.map((slot) => this.startReplica(set, slot)));
    } finally {
      this.pending = null;
    }
    if (!this.closed) return set;
    await Promise.all(this.detach(set).map((replica) => this.retire(replica)));
    return null;
  }

  /** Starts the slot's model server; the slot says how it went (ready with its replica, or failing and why). */
  private async startReplica(set: ReplicaSet, slot: Slot): Promise<void> {
    const { version } = set;
    const which = set.slots.length > 1 ? ` replica ${slot.index}` : '';
    slot.state = 'starting';
    slot.message = null;
    await this.note(`starting version ${version.version} (${set.deployment.alias})${which}`);
    let server: ModelServer;
    try {
      server = await this.deps.launcher.launch({ deployment: set.deployment, version, onOutput: (chunk) => this.deps.output(this.desired, chunk) });
    } catch (error) {
      slot.state = 'failing';
      slot.message = `could not start: ${error instanceof Error ? error.message : String(error)}`;
      return;
    }
    this.replicaIds += 1;
    const replica: Replica = { id: this.replicaIds, server, inflight: 0, retired: false, readyAt: 0, drained: null, failedChecks: 0 };
    void server.exited.then((how) => this.exitedOnItsOwn(set, slot, replica, how));
    try {
      await server.ready;
    } catch (error) {
      replica.retired = true;
      await server.stop();
      slot.state = 'failing';
      slot.message = `version ${version.version} did not become ready: ${error instanceof Error ? error.message : String(error)}`;
      return;
    }
    replica.readyAt = Date.now();
    slot.replica = replica;
    slot.state = 'ready';
    await this.note(`version ${version.version}${which} is ready`);
  }

  private exitedOnItsOwn(set: ReplicaSet, slot: Slot, replica: Replica, how: string): void {
    if (replica.retired || this.closed) return;
    replica.retired = true;
    // Nothing left to stop, but its files go.
    void replica.server.stop().catch((err: unknown) => this.deps.log.warn({ err, deployment: this.desired.id }, 'could not clean up after a model server'));
    if (slot.replica !== replica) return;
    slot.replica = null;
    slot.restarts += 1;
    if (Date.now() - replica.readyAt >= this.options.stableMs) slot.attempts = 0;
    const which = set.slots.length > 1 ? ` (replica ${slot.index})` : '';
    void this.note(`the model server exited (${how})${which}`);
    this.setStatus({ restarts: this.status.restarts + 1 });
    // A replica of a set still starting beside the serving one fails that switch instead.
    if (set === this.serving) this.restartLater(set, slot, `the model server exited (${how})`);
  }

  /** Asks every ready replica's health path; one that failed HEALTH_FAILURES times in a row is replaced. */
  private async checkHealth(): Promise<void> {
    const set = this.serving;
    if (this.checking || this.closed || set === null) return;
    this.checking = true;
    try {
      await Promise.all(
        set.slots.map(async (slot) => {
          const replica = slot.replica;
          if (replica === null) return;
          replica.failedChecks = (await replica.server.probe()) ? 0 : replica.failedChecks + 1;
          if (replica.failedChecks >= HEALTH_FAILURES) this.unhealthy(set, slot, replica);
        }),
      );
    } finally {
      this.checking = false;
    }
  }

  /** Out of the rotation at once; stopped once its requests drain; started again after the slot's backoff. */
  private unhealthy(set: ReplicaSet, slot: Slot, replica: Replica): void {
    if (slot.replica !== replica || this.serving !== set || this.closed) return;
    const why = `no 200 from ${set.deployment.healthPath} ${HEALTH_FAILURES} times in a row`;
    slot.replica = null;
    slot.restarts += 1;
    const which = set.slots.length > 1 ? ` (replica ${slot.index})` : '';
    void this.note(`the model server failed its health check: ${why}${which}; restarting it`);
    this.setStatus({ restarts: this.status.restarts + 1 });
    this.retireInBackground(replica);
    this.restartLater(set, slot, `the model server failed its health check: ${why}`);
  }

  /** The slot is `failing` until its restart, after its own backoff. */
  private restartLater(set: ReplicaSet, slot: Slot, why: string): void {
    const delay = Math.min(this.options.backoffMaxMs, this.options.backoffInitialMs * 2 ** slot.attempts);
    slot.attempts += 1;
    slot.state = 'failing';
    slot.message = `${why}; restarting in ${Math.ceil(delay / 1000)} s`;
    clearTimeout(slot.timer);
    slot.timer = setTimeout(() => {
      if (!this.closed) this.enqueue(() => this.restartSlot(set, slot));
    }, delay);
    slot.timer.unref();
    if (set.slots.every((s) => s.replica === null)) {
      this.retryAt = Date.now() + delay;
      this.rejectWaiters(new Unavailable(why, Math.ceil(delay / 1000)));
    }
    this.refresh();
  }

  private async restartSlot(set: ReplicaSet, slot: Slot): Promise<void> {
    if (this.closed || this.serving !== set || slot.replica !== null) return;
    slot.state = 'starting';
    this.refresh();
    await this.startReplica(set, slot);
    if (this.serving !== set || this.closed) {
      const started = slot.replica;
      slot.replica = null;
      if (started) this.retireInBackground(started);
      return;
    }
    if (slot.replica === null) return this.restartLater(set, slot, slot.message ?? 'did not start');
    this.refresh();
    this.wakeWaiters();
  }

  /** The deployment's state from its serving set: `ready` while any replica serves. */
  private refresh(): void {
    const set = this.serving;
    if (set === null) return;
    const ready = set.slots.filter((slot) => slot.replica !== null).length;
    const state: DeploymentState = ready > 0 ? 'ready' : set.slots.some((slot) => slot.state === 'starting') ? 'starting' : 'failing';
    const trouble = set.slots.find((slot) => slot.replica === null);
    let message = this.status.switchingTo !== null ? this.status.message : this.switchNote;
    if (trouble) {
      const about = trouble.message ?? `restarting replica ${trouble.index}`;
      message = set.slots.length > 1 ? `${ready} of ${set.slots.length} replicas ready; replica ${trouble.index}: ${about}` : about;
    }
    this.setStatus({ state, version: set.version.version, message });
  }

  /** No set could start: state `failing` and a new start after the backoff. */
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
    const set = this.serving;
    if (this.closed || set === null || this.status.switchingTo !== null || inflight(set) > 0) return;
    if (Date.now() - this.lastUsed < (this.options.idleStopMs ?? Infinity)) return;
    this.enqueue(async () => {
      if (this.serving !== set || inflight(set) > 0) return;
      this.serving = null;
      const replicas = this.detach(set);
      // The log says it before the state does: whoever sees `stopped` finds the reason in the log.
      await this.note('stopped: idle');
      this.setStatus({ state: 'stopped', message: idleMessage(this.options.idleStopMs) });
      await Promise.all(replicas.map((replica) => this.retire(replica)));
    });
  }

  /** Takes a set's running replicas out of it (and its pending restarts) to be stopped. */
  private detach(set: ReplicaSet): Replica[] {
    const replicas: Replica[] = [];
    for (const slot of set.slots) {
      clearTimeout(slot.timer);
      if (slot.replica) replicas.push(slot.replica);
      slot.replica = null;
    }
    return replicas;
  }

  private retireInBackground(replica: Replica): void {
    const done = this.retire(replica).catch((err: unknown) => this.deps.log.warn({ err, deployment: this.desired.id }, 'could not stop a drained model server'));
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
    return this.deps.output(this.desired, Buffer.from(`[mlgit] ${new Date().toISOString()} ${line}\n`)).catch(() => {});
  }

  private setStatus(change: Partial<Omit<DeploymentStatus, 'replicas'>>): void {
    const previous = this.status.state;
    this.status = { ...this.status, ...change };
    this.deps.onStatus(this.desired, this.current(), previous);
  }
}

function newSlot(index: number): Slot {
  return { index, replica: null, state: 'starting', message: null, restarts: 0, attempts: 0, timer: undefined };
}

function replicaStatuses(set: ReplicaSet | null): ReplicaStatus[] {
  return (set?.slots ?? []).map((slot) => ({ index: slot.index, version: set!.version.version, state: slot.state, restarts: slot.restarts, message: slot.message }));
}

function inflight(set: ReplicaSet): number {
  return set.slots.reduce((sum, slot) => sum + (slot.replica?.inflight ?? 0), 0);
}

function idleMessage(idleStopMs: number | null): string {
  return `idle for ${Math.round((idleStopMs ?? 0) / 1000)} s; the next request starts it again`;
}
