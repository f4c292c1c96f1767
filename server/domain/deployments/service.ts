// Deployments of a repository's models: created, listed and removed through the API (with the
// repository's access rules), kept running by one DeploymentSupervisor each, and leased to the
// serving proxy one request at a time.
import { Readable } from 'node:stream';
import { parseManifest } from '../../../schema/manifest.ts';
import type { Db } from '../../db/connect.ts';
import * as deploymentsDb from '../../db/deployments.ts';
import { conflict, DomainError, notFound, unauthenticated } from '../errors.ts';
import type { Principal, Repo } from '../model.ts';
import type { GitBackend, RunLogStore } from '../ports.ts';
import type { ModelVersion } from '../registry/model.ts';
import { modelName } from '../registry/names.ts';
import type { ModelVersions } from '../registry/versions.ts';
import type { RepoService } from '../repos.ts';
import { AccessCache } from './access-cache.ts';
import type { ModelServerLauncher } from './launcher.ts';
import { parseDeploySpec, type Deployment, type DeploymentState, type DeploymentStatus } from './model.ts';
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
  events: DeploymentEvents;
  log: { warn(obj: object, msg: string): void };
}

export interface DeploymentLimits extends SupervisorOptions {
  maxCpus: number;
  maxMemoryBytes: number;
  maxLogBytes: number;
  /** How often rows are compared with running supervisors (deleted repositories stop their deployments). */
  syncIntervalMs: number;
}

export class DeploymentService {
  private readonly supervisors = new Map<number, DeploymentSupervisor>();
  /** Status writes of a deployment, in the order they happened. */
  private readonly writes = new Map<number, Promise<void>>();
  private syncTimer: NodeJS.Timeout | undefined;
  private readonly access = new AccessCache();
  /** Shutting down: the rows keep the last state seen, so a restart brings every deployment back. */
  private closing = false;

  constructor(
    private readonly deps: DeploymentServiceDeps,
    private readonly limits: DeploymentLimits,
  ) {}

  async create(principal: Principal, owner: string, name: string, body: unknown): Promise<DeploymentView> {
    const { repo } = await this.deps.repos.authorize(principal, owner, name, 'write');
    const spec = parseDeploySpec(body);
    if (spec.cpus > this.limits.maxCpus) throw new DomainError('invalid', `resources.cpu may be at most ${this.limits.maxCpus} on this server`);
    if (spec.memoryBytes > this.limits.maxMemoryBytes) throw new DomainError('invalid', `resources.memory may be at most ${this.limits.maxMemoryBytes} bytes on this server`);
    if (spec.public && repo.private) throw new DomainError('invalid', 'public deployments need a public repository: callers of a private one need a read token');
    const version = await this.deps.versions.byAlias(repo, spec.model, spec.alias);
    const image = spec.image ?? (await this.manifestImage(repo.id, version.commitSha));
    const row = await deploymentsDb.insertDeployment(this.deps.db, {
      repo_id: repo.id,
      model: spec.model,
      alias: spec.alias,
      command: spec.command,
      image,
      health_path: spec.healthPath,
      replicas: 1,
      cpus: spec.cpus,
      memory_bytes: spec.memoryBytes,
      env: JSON.stringify(spec.env),
      public: spec.public,
      created_by: principal.user.id,
    });
    if (!row) throw conflict(`${spec.model} has a deployment already; remove it first (DELETE .../deployments/${spec.model})`);
    const supervisor = this.supervise(row);
    return { deployment: supervisor.deployment, status: supervisor.current() };
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
    const supervisor = this.supervisors.get(row.id);
    this.supervisors.delete(row.id);
    await supervisor?.close();
    await this.writes.get(row.id);
    await deploymentsDb.deleteDeployment(this.deps.db, row.id);
    return supervisor ? { deployment: supervisor.deployment, status: supervisor.current() } : this.view(row);
  }

  /** The deployment's log from byte `start`: the model server's output and mlgit's lines about it. */
  async logs(principal: Principal | null, owner: string, name: string, model: string, start: number): Promise<{ size: number; content: Readable | null }> {
    const { repo } = await this.deps.repos.authorize(principal, owner, name, 'read');
    const row = await this.row(repo, model);
    return { size: await this.deps.logs.size(row.id), content: await this.deps.logs.read(row.id, start) };
  }

  /**
   * A replica for one proxied request, with the repository's access rules: private repositories
   * need read access; public ones too unless the deployment was made public.
   */
  async lease(principal: Principal | null, owner: string, name: string, model: string): Promise<Lease> {
    const key = `${callerKey(principal)} ${owner}/${name}`;
    const { repo } = await this.access.get(key, () => this.deps.repos.authorize(principal, owner, name, 'read'));
    const supervisor = this.supervisorOf(repo.id, model);
    if (!supervisor) throw notFound('deployment');
    if (principal === null && !(supervisor.deployment.public && !repo.private)) throw unauthenticated('this deployment needs a token with read access to the repository');
    return supervisor.lease();
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

  private async sync(): Promise<void> {
    const rows = await deploymentsDb.allDeployments(this.deps.db);
    const ids = new Set(rows.map((row) => row.id));
    for (const [id, supervisor] of this.supervisors) {
      if (ids.has(id)) continue;
      this.supervisors.delete(id);
      await supervisor.close();
    }
    for (const row of rows) if (!this.supervisors.has(row.id)) this.supervise(row);
  }

  private supervise(row: deploymentsDb.DeploymentRow): DeploymentSupervisor {
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
    // Another node's, or not picked up yet: what was last recorded.
    return { deployment: toDeployment(row), status: { state: row.state as DeploymentState, version: row.version, switchingTo: null, message: row.message, restarts: row.restarts } };
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
    healthPath: row.health_path,
    replicas: row.replicas,
    cpus: row.cpus,
    memoryBytes: Number(row.memory_bytes),
    env: row.env,
    public: row.public,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}
