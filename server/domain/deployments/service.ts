// Deployments of a repository's models: created, listed and removed through the API (with the
// repository's access rules) or declared by the default branch's mlproject.yaml (applied after
// each push, which then owns them), kept running by one DeploymentSupervisor each, and leased to
// the serving proxy one request at a time.
import { Readable } from 'node:stream';
import { parseManifest } from '../../../schema/manifest.ts';
import type { Db } from '../../db/connect.ts';
import * as deploymentsDb from '../../db/deployments.ts';
import { conflict, DomainError, notFound, unauthenticated } from '../errors.ts';
import type { Principal, RefUpdate, Repo } from '../model.ts';
import type { GitBackend, JobQueue, RunLogStore } from '../ports.ts';
import type { ModelVersion } from '../registry/model.ts';
import { modelName } from '../registry/names.ts';
import type { ModelVersions } from '../registry/versions.ts';
import type { RepoService } from '../repos.ts';
import { AccessCache } from './access-cache.ts';
import type { ModelServerLauncher } from './launcher.ts';
import { declaredDeployments, type DeclaredDeployment } from './manifest-deployments.ts';
import { parseDeploySpec, sameSpec, type DeploySpec, type Deployment, type DeploymentState, type DeploymentStatus } from './model.ts';
import { DeploymentSupervisor, type Lease, type SupervisorOptions } from './supervisor.ts';

export interface DeploymentView {
  readonly deployment: Deployment;
  readonly status: DeploymentStatus;
}

export interface DeploymentEvents {
  /** A deployment's state changed (webhook `deployment.state`). */
  stateChanged(view: DeploymentView, previous: DeploymentState): Promise<void>;
}

export interface DeploymentServiceDeps {
  db: Db;
  repos: RepoService;
  versions: ModelVersions;
  git: GitBackend;
  launcher: ModelServerLauncher;
  logs: RunLogStore;
  /** Carries "apply the manifest's deployments" from a push to a worker: the push does not wait. */
  queue: JobQueue;
  events: DeploymentEvents;
  log: { warn(obj: object, msg: string): void };
}

export interface DeploymentLimits extends SupervisorOptions {
  maxCpus: number;
  maxMemoryBytes: number;
  /** MLGIT_DEPLOY_MAX_REPLICAS. */
  maxReplicas: number;
  maxLogBytes: number;
  /** Whether the runtime runs images (docker): only then may a deployment have no command. */
  imageEntrypoints: boolean;
  /** How often rows are compared with running supervisors (deleted repositories stop their deployments). */
  syncIntervalMs: number;
}

const MANIFEST_JOB = 'deployments.manifest';

export class DeploymentService {
  private readonly supervisors = new Map<number, DeploymentSupervisor>();
  /** Status writes of a deployment, in the order they happened. */
  private readonly writes = new Map<number, Promise<void>>();
  private syncTimer: NodeJS.Timeout | undefined;
  private readonly access = new AccessCache();
  /** Shutting down: the rows keep the last state seen, so a restart brings every deployment back. */
  private closing = false;
  /** Manifest applications of a repository, one at a time. */
  private readonly applying = new Map<number, Promise<void>>();

  constructor(
    private readonly deps: DeploymentServiceDeps,
    private readonly limits: DeploymentLimits,
  ) {}

  async create(principal: Principal, owner: string, name: string, body: unknown): Promise<DeploymentView> {
    const { repo } = await this.deps.repos.authorize(principal, owner, name, 'write');
    const spec = parseDeploySpec(body);
    const overLimits = this.limitProblem(spec);
    if (overLimits !== null) throw new DomainError('invalid', overLimits);
    if (spec.public && repo.private) throw new DomainError('invalid', 'public deployments need a public repository: callers of a private one need a read token');
    const version = await this.deps.versions.byAlias(repo, spec.model, spec.alias);
    const image = spec.image ?? (await this.manifestImage(repo.id, version.commitSha));
    const row = await deploymentsDb.insertDeployment(this.deps.db, {
      repo_id: repo.id,
      model: spec.model,
      ...specColumns(spec, null),
      image,
      created_by: principal.user.id,
    });
    if (!row) {
      const owner = (await deploymentsDb.findDeployment(this.deps.db, repo.id, spec.model))?.manifest_entry;
      if (owner) throw conflict(manifestOwns(spec.model, owner, repo, 'change it there'));
      throw conflict(`${spec.model} has a deployment already; remove it first (DELETE .../deployments/${spec.model})`);
    }
    this.supervise(row);
    return this.view(row);
  }

  async list(principal: Principal | null, owner: string, name: string): Promise<DeploymentView[]> {
    const { repo } = await this.deps.repos.authorize(principal, owner, name, 'read');
    return (await deploymentsDb.deploymentsOfRepo(this.deps.db, repo.id)).map((row) => this.view(row));
  }

  async get(principal: Principal | null, owner: string, name: string, model: string): Promise<DeploymentView> {
    const { repo } = await this.deps.repos.authorize(principal, owner, name, 'read');
    return this.view(await this.row(repo, model));
  }

  async remove(principal: Principal, owner: string, name: string, model: string): Promise<DeploymentView> {
    const { repo } = await this.deps.repos.authorize(principal, owner, name, 'write');
    const row = await this.row(repo, model);
    if (row.manifest_entry !== null) throw conflict(manifestOwns(row.model, row.manifest_entry, repo, 'remove the entry there to stop it'));
    return this.discard(row);
  }

  /**
   * A push landed: if it moved a branch, the default branch's `deployments:` is applied in the
   * background. Never throws: the push's other follow-ups (webhooks) must not run twice because
   * this enqueue failed; the next push applies the manifest again.
   */
  async pushed(repoId: number, pusherId: number | null, updates: readonly RefUpdate[]): Promise<void> {
    if (!updates.some((update) => update.ref.startsWith('refs/heads/'))) return;
    try {
      await this.deps.queue.enqueue(MANIFEST_JOB, { repoId, pusherId }, { jobId: `${MANIFEST_JOB}-${repoId}` });
    } catch (err) {
      this.deps.log.warn({ err, repo: repoId }, 'could not queue the manifest\'s deployments; the next push applies them');
    }
  }

  registerWorkers(): void {
    this.deps.queue.process(MANIFEST_JOB, async (data) => {
      const { repoId, pusherId } = data as { repoId: number; pusherId: number | null };
      await this.applyManifest(repoId, pusherId);
    });
  }

  /**
   * Makes the repository's manifest-owned deployments what its default branch declares: new
   * entries start (taking over an API-made deployment of the same model), changed ones switch
   * blue/green to the new spec, removed ones stop. Applications of one repository run in turn.
   */
  private applyManifest(repoId: number, actorId: number | null): Promise<void> {
    const previous = this.applying.get(repoId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.applyNow(repoId, actorId));
    this.applying.set(repoId, next);
    void next.catch(() => {}).finally(() => {
      if (this.applying.get(repoId) === next) this.applying.delete(repoId);
    });
    return next;
  }

  /** The deployment's log from byte `start`: the model server's output and mlgit's lines about it. */
  async logs(principal: Principal | null, owner: string, name: string, model: string, start: number): Promise<{ size: number; content: Readable | null }> {
    const { repo } = await this.deps.repos.authorize(principal, owner, name, 'read');
    const row = await this.row(repo, model);
    return { size: await this.deps.logs.size(row.id), content: await this.deps.logs.read(row.id, start) };
  }

  /**
   * A replica for one proxied request, with the repository's access rules: private repositories
   * need read access; public ones too unless the deployment was made public. With `avoid`, a
   * replica other than that one (a retry after a lost connection).
   */
  async lease(principal: Principal | null, owner: string, name: string, model: string, avoid?: number): Promise<Lease> {
    const key = `${callerKey(principal)} ${owner}/${name}`;
    const { repo } = await this.access.get(key, () => this.deps.repos.authorize(principal, owner, name, 'read'));
    const supervisor = this.supervisorOf(repo.id, model);
    if (!supervisor) throw notFound('deployment');
    if (principal === null && !(supervisor.deployment.public && !repo.private)) throw unauthenticated('this deployment needs a token with read access to the repository');
    return supervisor.lease(avoid);
  }

  /** The registry changed a model (a version, an alias): deployments of it follow their alias. */
  modelChanged(repoId: number, model: string): void {
    this.supervisorOf(repoId, model)?.reconcile();
  }

  /** Starts every deployment the database holds (on start-up), then keeps rows and supervisors in step. */
  async resume(): Promise<void> {
    await this.sync();
    this.syncTimer = setInterval(() => void this.sync().catch((err: unknown) => this.deps.log.warn({ err }, 'could not sync deployments')), this.limits.syncIntervalMs);
    this.syncTimer.unref();
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.syncTimer);
    const all = [...this.supervisors.values()];
    this.supervisors.clear();
    await Promise.all(all.map((s) => s.close()));
    await Promise.all([...this.writes.values()]);
    await this.deps.launcher.close();
  }

  private async applyNow(repoId: number, actorId: number | null): Promise<void> {
    const repo = await this.deps.repos.byId(repoId);
    if (!repo || this.closing) return;
    const declared = await declaredDeployments(this.deps.git, repo);
    if (declared === null) {
      this.deps.log.warn({ repo: repoId }, 'the default branch\'s mlproject.yaml is not valid; its deployments stay as they are');
      return;
    }
    const rows = await deploymentsDb.deploymentsOfRepo(this.deps.db, repoId);
    for (const wanted of declared) {
      const row = rows.find((r) => r.model === wanted.spec.model);
      if (row === undefined) {
        const inserted = await deploymentsDb.insertDeployment(this.deps.db, { repo_id: repoId, model: wanted.spec.model, ...declaredColumns(wanted), created_by: actorId });
        if (inserted) this.supervise(inserted);
      } else if (!sameSpec(toDeployment(row), toDeployment({ ...row, ...declaredColumns(wanted), env: wanted.spec.env }))) {
        const updated = await deploymentsDb.updateDeploymentSpec(this.deps.db, row.id, declaredColumns(wanted));
        if (updated) await this.follow(updated);
      }
    }
    for (const row of rows) {
      if (row.manifest_entry !== null && !declared.some((wanted) => wanted.spec.model === row.model)) await this.discard(row);
    }
  }

  /** Stops a deployment and deletes its row. */
  private async discard(row: deploymentsDb.DeploymentRow): Promise<DeploymentView> {
    const supervisor = this.supervisors.get(row.id);
    this.supervisors.delete(row.id);
    await supervisor?.close();
    await this.writes.get(row.id);
    await deploymentsDb.deleteDeployment(this.deps.db, row.id);
    return supervisor ? { deployment: supervisor.deployment, status: supervisor.current() } : this.view(row);
  }

  /** A row's spec changed (here or on another node): its supervisor follows it, or starts or stops. */
  private async follow(row: deploymentsDb.DeploymentRow): Promise<void> {
    const supervisor = this.supervisors.get(row.id);
    const refused = this.limitProblem(toDeployment(row));
    if (supervisor === undefined) {
      this.supervise(row);
    } else if (refused !== null) {
      this.supervisors.delete(row.id);
      await supervisor.close();
      await this.writes.get(row.id);
      // Not `stopped`: that is an idle deployment, which the next request would start.
      await deploymentsDb.recordState(this.deps.db, row.id, { state: 'failing', version: null, message: `not started: ${refused}`, restarts: row.restarts });
    } else if (!sameSpec(supervisor.deployment, toDeployment(row))) {
      supervisor.update(toDeployment(row));
    }
  }

  /** Why this server will not run a spec (over its caps), or null. */
  private limitProblem(spec: { command: string | null; cpus: number; memoryBytes: number; replicas: number }): string | null {
    const problems: string[] = [];
    if (spec.command === null && !this.limits.imageEntrypoints) problems.push('an image\'s own entrypoint (no command) needs the docker runtime (MLGIT_RUNTIME=docker); give a command to run the model server here');
    if (spec.cpus > this.limits.maxCpus) problems.push(`resources.cpu may be at most ${this.limits.maxCpus} on this server`);
    if (spec.memoryBytes > this.limits.maxMemoryBytes) problems.push(`resources.memory may be at most ${this.limits.maxMemoryBytes} bytes on this server`);
    if (spec.replicas > this.limits.maxReplicas) problems.push(`replicas may be at most ${this.limits.maxReplicas} on this server (MLGIT_DEPLOY_MAX_REPLICAS)`);
    return problems.length > 0 ? problems.join('; ') : null;
  }

  private async sync(): Promise<void> {
    const rows = await deploymentsDb.allDeployments(this.deps.db);
    const ids = new Set(rows.map((row) => row.id));
    for (const [id, supervisor] of this.supervisors) {
      if (ids.has(id)) continue;
      this.supervisors.delete(id);
      await supervisor.close();
    }
    for (const row of rows) await this.follow(row);
  }

  /** Starts supervising a row, unless its spec is over this server's caps (its view says so). */
  private supervise(row: deploymentsDb.DeploymentRow): DeploymentSupervisor | null {
    if (this.closing || this.limitProblem(toDeployment(row)) !== null) return null;
    const supervisor = new DeploymentSupervisor(
      toDeployment(row),
      {
        launcher: this.deps.launcher,
        resolve: (d) => this.resolve(d),
        output: async (d, chunk) => {
          await this.deps.logs.append(d.id, Readable.from([chunk]), this.limits.maxLogBytes);
        },
        onStatus: (d, status, previous) => this.recordStatus(d, status, previous),
        log: this.deps.log,
      },
      this.limits,
      { idle: row.state === 'stopped', restarts: row.restarts, version: row.version },
    );
    this.supervisors.set(row.id, supervisor);
    return supervisor;
  }

  private recordStatus(deployment: Deployment, status: DeploymentStatus, previous: DeploymentState): void {
    if (this.closing) return;
    const before = this.writes.get(deployment.id) ?? Promise.resolve();
    const next = before.then(async () => {
      await deploymentsDb.recordState(this.deps.db, deployment.id, { state: status.state, version: status.version, message: status.message, restarts: status.restarts });
      if (status.state !== previous) await this.deps.events.stateChanged({ deployment, status }, previous);
    });
    const settled = next.catch((err: unknown) => this.deps.log.warn({ err, deployment: deployment.id }, 'could not record a deployment state'));
    this.writes.set(deployment.id, settled);
    void settled.finally(() => {
      if (this.writes.get(deployment.id) === settled) this.writes.delete(deployment.id);
    });
  }

  private async resolve(deployment: Deployment): Promise<ModelVersion> {
    const repo = await this.deps.repos.byId(deployment.repoId);
    if (!repo) throw notFound('repository');
    return this.deps.versions.byAlias(repo, deployment.model, deployment.alias);
  }

  /** The manifest's `image` at the version's commit: the image its job trained in. */
  private async manifestImage(repoId: number, commitSha: string): Promise<string> {
    const blob = await this.deps.git.blob(repoId, commitSha, 'mlproject.yaml');
    const chunks: Buffer[] = [];
    if (blob) for await (const chunk of blob.content) chunks.push(chunk as Buffer);
    const image = blob ? parseManifest(Buffer.concat(chunks).toString('utf8')).manifest?.image : undefined;
    if (!image) throw new DomainError('invalid', 'image is required: the mlproject.yaml of the version\'s commit names none');
    return image;
  }

  private async row(repo: Repo, model: string): Promise<deploymentsDb.DeploymentRow> {
    const row = await deploymentsDb.findDeployment(this.deps.db, repo.id, modelName(model));
    if (!row) throw notFound('deployment');
    return row;
  }

  private supervisorOf(repoId: number, model: string): DeploymentSupervisor | undefined {
    for (const supervisor of this.supervisors.values()) if (supervisor.deployment.repoId === repoId && supervisor.deployment.model === model) return supervisor;
    return undefined;
  }

  private view(row: deploymentsDb.DeploymentRow): DeploymentView {
    const supervisor = this.supervisors.get(row.id);
    if (supervisor) return { deployment: supervisor.deployment, status: supervisor.current() };
    const deployment = toDeployment(row);
    const refused = this.limitProblem(deployment);
    if (refused !== null) return { deployment, status: { state: 'failing', version: null, switchingTo: null, message: `not started: ${refused}`, restarts: row.restarts, replicas: [] } };
    // Another node's, or not picked up yet: what was last recorded.
    return { deployment, status: { state: row.state as DeploymentState, version: row.version, switchingTo: null, message: row.message, restarts: row.restarts, replicas: [] } };
  }
}

/** Everything about a caller that decides its access: the user, the credential's scopes, a job's run. */
function callerKey(principal: Principal | null): string {
  if (principal === null) return '-';
  return [principal.user.id, principal.via, principal.tokenId ?? '', [...principal.scopes].sort().join(','), principal.job?.runId ?? ''].join(':');
}

function toDeployment(row: deploymentsDb.DeploymentRow): Deployment {
  return {
    id: row.id,
    repoId: row.repo_id,
    model: row.model,
    alias: row.alias,
    command: row.command,
    image: row.image,
    port: row.port,
    healthPath: row.health_path,
    replicas: row.replicas,
    cpus: row.cpus,
    memoryBytes: Number(row.memory_bytes),
    env: row.env,
    public: row.public,
    manifestEntry: row.manifest_entry,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

/** The columns a spec sets (the image is the caller's: given, or read from a manifest). */
function specColumns(spec: DeploySpec, manifestEntry: string | null): Omit<deploymentsDb.DeploymentSpecColumns, 'image'> {
  return {
    alias: spec.alias,
    command: spec.command,
    port: spec.port,
    health_path: spec.healthPath,
    replicas: spec.replicas,
    cpus: spec.cpus,
    memory_bytes: spec.memoryBytes,
    env: JSON.stringify(spec.env),
    public: spec.public,
    manifest_entry: manifestEntry,
  };
}

function declaredColumns(wanted: DeclaredDeployment): deploymentsDb.DeploymentSpecColumns {
  return { ...specColumns(wanted.spec, wanted.entry), image: wanted.spec.image };
}

/** The refusal of an API change to a deployment the manifest owns. */
function manifestOwns(model: string, entry: string, repo: Repo, what: string): string {
  return `${model} is deployed by deployments.${entry} of mlproject.yaml on ${repo.defaultBranch}; ${what}`;
}
