// Aliases (issue 11, "Aliases"): names such as `production` that point at one version, moved by
// compare-and-set ({version, expected_version}: a stale expectation is a 409), past the promotion
// gates of the default branch's manifest (422 listing every unmet condition; a repository admin may
// override with a reason, which is audited), each move kept in a history and mirrored to the ref
// refs/models/<model>/aliases/<alias>. `latest` is implicit and never stored.
import type { Db } from '../../db/connect.ts';
import * as registryDb from '../../db/registry.ts';
import * as runsDb from '../../db/runs.ts';
import * as statusesDb from '../../db/statuses.ts';
import { DomainError, conflict, forbidden, invalid } from '../errors.ts';
import type { AccessLevel, Principal, Repo } from '../model.ts';
import type { GitBackend } from '../ports.ts';
import { toRun } from '../runs/model.ts';
import type { Threshold } from '../compare.ts';
import { unmetGates, type GateFacts } from './gates.ts';
import { defaultBranchManifest } from './manifest-models.ts';
import type { AliasHistoryEntry, ModelAlias, ModelVersion, RegistryEvents } from './model.ts';
import type { ModelRefs } from './model-refs.ts';
import { LATEST, aliasName, aliasRef, modelName, versionField } from './names.ts';
import type { ModelVersions } from './versions.ts';

const MAX_REASON = 1000;

/** A move refused by promotion gates: 422 with every unmet condition. */
export class GatesUnmet extends DomainError {
  constructor(
    readonly alias: string,
    readonly version: number,
    readonly unmet: readonly string[],
  ) {
    super('invalid', `version ${version} does not meet the promotion gates of "${alias}": ${unmet.join('; ')}`);
  }
}

export interface MoveRequest {
  version?: unknown;
  expected_version?: unknown;
  reason?: unknown;
  override?: unknown;
}

export interface Caller {
  principal: Principal;
  level: AccessLevel;
  address: string | null;
}

export class ModelAliases {
  constructor(
    private readonly db: Db,
    private readonly git: GitBackend,
    private readonly versions: ModelVersions,
    private readonly refs: ModelRefs,
    private readonly events: RegistryEvents,
    private readonly log: { warn(obj: object, msg: string): void },
  ) {}

  /** Stored aliases plus the implicit `latest` (when the model has a version). */
  async list(repo: Repo, rawModel: string): Promise<ModelAlias[]> {
    const model = modelName(rawModel);
    const [rows, latest] = await Promise.all([registryDb.listAliases(this.db, repo.id, model), registryDb.latestVersion(this.db, repo.id, model)]);
    const stored = rows.map((r) => ({ model, alias: r.alias, version: r.version, updatedBy: r.updated_by_name, updatedAt: r.updated_at }));
    return latest ? [{ model, alias: LATEST, version: latest.version, updatedBy: null, updatedAt: latest.created_at }, ...stored] : stored;
  }

  async history(repo: Repo, rawModel: string, rawAlias: string, limit: number, offset: number): Promise<{ entries: AliasHistoryEntry[]; total: number }> {
    const { rows, total } = await registryDb.aliasHistory(this.db, repo.id, modelName(rawModel), aliasName(rawAlias), limit, offset);
    return {
      entries: rows.map((r) => ({ id: r.id, fromVersion: r.from_version, toVersion: r.to_version, actor: r.actor_name, reason: r.reason, overridden: r.overridden, createdAt: r.created_at })),
      total,
    };
  }

  /** A writer's approval of a version for an alias (gates with `approvers: n` count them). */
  async approve(repo: Repo, rawModel: string, versionNumber: number, rawAlias: string, principal: Principal): Promise<string[]> {
    const alias = storedAlias(rawAlias);
    const version = await this.versions.get(repo, rawModel, versionNumber);
    await registryDb.addApproval(this.db, { repoId: repo.id, model: version.model, version: version.version, alias, userId: principal.user.id });
    return registryDb.approvers(this.db, repo.id, version.model, version.version, alias);
  }

  async move(repo: Repo, rawModel: string, rawAlias: string, body: MoveRequest, caller: Caller) {
    const model = modelName(rawModel);
    const alias = storedAlias(rawAlias);
    if (!Object.hasOwn(body, 'expected_version')) throw invalid('expected_version is required: the version the alias points at now, or null when it does not exist yet');
    const target = versionField(body.version, 'version', false)!;
    const expected = versionField(body.expected_version, 'expected_version', true);
    const override = body.override === undefined ? false : body.override;
    if (typeof override !== 'boolean') throw invalid('override must be true or false');
    const reason = body.reason === undefined || body.reason === null ? null : body.reason;
    if (reason !== null && (typeof reason !== 'string' || reason.length > MAX_REASON)) throw invalid(`reason must be text of at most ${MAX_REASON} characters`);

    const [version, current] = await Promise.all([this.versions.get(repo, model, target), registryDb.findAlias(this.db, repo.id, model, alias)]);
    // The authoritative check is the conditional UPDATE below; this one answers early, before any
    // git is read, so a crowd of stale movers costs a query each, and names what is there.
    if ((current?.version ?? null) !== expected) throw stale(alias, current?.version ?? null);
    const manifest = await defaultBranchManifest(this.git, repo.id, repo.defaultBranch);
    const rule = manifest?.models?.[model]?.promote?.[alias];
    if (rule?.protected && caller.level !== 'admin') throw forbidden(`alias "${alias}" is protected: only repository admins may move it`);
    // Already there: nothing moves, so nothing is gated, recorded or announced.
    if (target === expected) return { model, alias, version: target, previous: expected, overridden: [], unchanged: true };

    const unmet = rule ? unmetGates(rule, await this.facts(repo, version, alias, current?.version ?? null, manifest?.compare?.thresholds ?? {})) : [];
    if (override) {
      if (caller.level !== 'admin') throw forbidden('only repository admins may override promotion gates');
      if (reason === null || reason.trim() === '') throw invalid('an override needs a reason');
    } else if (unmet.length > 0) {
      throw new GatesUnmet(alias, target, unmet);
    }
    const overridden = override ? unmet : [];
    const moved = await registryDb.moveAlias(this.db, {
      repoId: repo.id,
      model,
      alias,
      version: target,
      expected,
      actorId: caller.principal.user.id,
      actorName: caller.principal.user.username,
      reason: reason?.trim() || null,
      overridden,
    });
    if (!moved) throw stale(alias, (await registryDb.findAlias(this.db, repo.id, model, alias))?.version ?? null);

    // The move is recorded; a ref that cannot follow now is logged, and `mlgit doctor` re-points it from the row.
    await this.refs.syncAliasRef(repo.id, aliasRef(model, alias), () => registryDb.aliasCommit(this.db, repo.id, model, alias)).catch((err: unknown) => {
      this.log.warn({ err, repoId: repo.id, model, alias }, 'could not update the alias ref');
    });
    await this.events.aliasUpdated(
      { repoId: repo.id, model, alias, from: expected, to: target, reason: reason?.trim() || null, overridden },
      { id: caller.principal.user.id, username: caller.principal.user.username },
      caller.address,
    );
    return { model, alias, version: target, previous: expected, overridden, unchanged: false };
  }

  /** What the gates look at (read only for an alias that has gates). */
  private async facts(repo: Repo, version: ModelVersion, alias: string, currentVersion: number | null, thresholds: Readonly<Record<string, Threshold>>): Promise<GateFacts> {
    const [runRow, currentRow, statusRows, approvals] = await Promise.all([
      version.runId === null ? undefined : runsDb.findRun(this.db, version.runId),
      currentVersion === null ? undefined : registryDb.findVersion(this.db, repo.id, version.model, currentVersion),
      statusesDb.latestPerContext(this.db, repo.id, version.commitSha),
      registryDb.approvers(this.db, repo.id, version.model, version.version, alias),
    ]);
    return {
      metrics: version.metrics,
      goals: version.goals,
      runRegressed: runRow ? (toRun(runRow).comparison?.regressed ?? []) : [],
      current: currentRow ? { version: currentRow.version, metrics: currentRow.metrics } : null,
      thresholds,
      statuses: Object.fromEntries(statusRows.map((s) => [s.context, s.state])),
      approvals,
    };
  }
}

function storedAlias(raw: string): string {
  const alias = aliasName(raw);
  if (alias === LATEST) throw invalid('"latest" is implicit (the newest version) and cannot be moved or approved');
  return alias;
}

function stale(alias: string, now: number | null) {
  return conflict(`alias "${alias}" ${now === null ? 'does not exist' : `points at version ${now}`} now; send that as expected_version if you still want to move it`);
}
