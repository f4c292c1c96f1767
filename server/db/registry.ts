// SQL of the model registry: versions (numbered per model, immutable), aliases moved by
// compare-and-set, their history, and approvals.
import { sql } from 'kysely';
import type { Db } from './connect.ts';
import type { ModelVersionsTable } from './tables.ts';
import type { Insertable, Selectable } from 'kysely';

export type ModelVersionRow = Selectable<ModelVersionsTable>;
export type NewModelVersion = Omit<Insertable<ModelVersionsTable>, 'id' | 'version' | 'created_at'>;

/**
 * Inserts the next version of a model: number = highest + 1, taken in the statement itself. Two
 * registrations racing for one number make one of them hit the unique constraint (23505); the
 * caller tries again.
 */
export function insertNextVersion(db: Db, row: NewModelVersion): Promise<ModelVersionRow> {
  const next = sql<number>`(select coalesce(max(version), 0) + 1 from model_versions where repo_id = ${row.repo_id} and model = ${row.model})`;
  return db
    .insertInto('model_versions')
    .values({ ...row, version: next })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findVersion(db: Db, repoId: number, model: string, version: number): Promise<ModelVersionRow | undefined> {
  return db.selectFrom('model_versions').selectAll().where('repo_id', '=', repoId).where('model', '=', model).where('version', '=', version).executeTakeFirst();
}

export function findVersionOfRun(db: Db, repoId: number, model: string, runId: number): Promise<ModelVersionRow | undefined> {
  return db.selectFrom('model_versions').selectAll().where('repo_id', '=', repoId).where('model', '=', model).where('run_id', '=', runId).executeTakeFirst();
}

export function latestVersion(db: Db, repoId: number, model: string): Promise<ModelVersionRow | undefined> {
  return db.selectFrom('model_versions').selectAll().where('repo_id', '=', repoId).where('model', '=', model).orderBy('version', 'desc').limit(1).executeTakeFirst();
}

/** The version just before `version` (for lineage's comparison), if any. */
export function previousVersion(db: Db, repoId: number, model: string, version: number): Promise<ModelVersionRow | undefined> {
  return db
    .selectFrom('model_versions')
    .selectAll()
    .where('repo_id', '=', repoId)
    .where('model', '=', model)
    .where('version', '<', version)
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export async function listVersions(db: Db, repoId: number, model: string, limit: number, offset: number): Promise<{ rows: ModelVersionRow[]; total: number }> {
  const base = db.selectFrom('model_versions').where('repo_id', '=', repoId).where('model', '=', model);
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy('version', 'desc').limit(limit).offset(offset).execute(),
    base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** Every model of a repository with its newest version number. */
export function listModels(db: Db, repoId: number): Promise<{ model: string; latest: number; versions: string }[]> {
  return db
    .selectFrom('model_versions')
    .where('repo_id', '=', repoId)
    .select((eb) => ['model', eb.fn.max<number>('version').as('latest'), eb.fn.countAll<string>().as('versions')])
    .groupBy('model')
    .orderBy('model')
    .execute();
}

/** Versions registered from runs of one commit (the note names them). */
export function versionsOfCommit(db: Db, repoId: number, commitSha: string): Promise<{ model: string; version: number; run_id: number | null }[]> {
  return db.selectFrom('model_versions').select(['model', 'version', 'run_id']).where('repo_id', '=', repoId).where('commit_sha', '=', commitSha).orderBy('model').orderBy('version').execute();
}

export function listAliases(db: Db, repoId: number, model: string) {
  return db
    .selectFrom('model_aliases')
    .leftJoin('users', 'users.id', 'model_aliases.updated_by')
    .selectAll('model_aliases')
    .select('users.username as updated_by_name')
    .where('repo_id', '=', repoId)
    .where('model', '=', model)
    .orderBy('alias')
    .execute();
}

export function findAlias(db: Db, repoId: number, model: string, alias: string) {
  return db.selectFrom('model_aliases').selectAll().where('repo_id', '=', repoId).where('model', '=', model).where('alias', '=', alias).executeTakeFirst();
}

export interface AliasMove {
  repoId: number;
  model: string;
  alias: string;
  version: number;
  /** The version the caller saw; null: the alias must not exist yet. */
  expected: number | null;
  actorId: number;
  actorName: string;
  reason: string | null;
  overridden: readonly string[];
}

/**
 * Moves an alias only if it still points at `expected`, and records the move in its history in
 * the same transaction. Concurrent movers with the same expectation queue on the row lock and
 * the losers find the WHERE no longer true: exactly one wins. False when this one lost.
 */
export async function moveAlias(db: Db, move: AliasMove): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const moved =
      move.expected === null
        ? await tx
            .insertInto('model_aliases')
            .values({ repo_id: move.repoId, model: move.model, alias: move.alias, version: move.version, updated_by: move.actorId })
            .onConflict((oc) => oc.columns(['repo_id', 'model', 'alias']).doNothing())
            .returning('version')
            .executeTakeFirst()
        : await tx
            .updateTable('model_aliases')
            .set({ version: move.version, updated_by: move.actorId, updated_at: sql<Date>`now()` })
            .where('repo_id', '=', move.repoId)
            .where('model', '=', move.model)
            .where('alias', '=', move.alias)
            .where('version', '=', move.expected)
            .returning('version')
            .executeTakeFirst();
    if (!moved) return false;
    await tx
      .insertInto('model_alias_history')
      .values({
        repo_id: move.repoId,
        model: move.model,
        alias: move.alias,
        from_version: move.expected,
        to_version: move.version,
        actor_id: move.actorId,
        actor_name: move.actorName,
        reason: move.reason,
        overridden: JSON.stringify(move.overridden),
      })
      .execute();
    return true;
  });
}

export async function aliasHistory(db: Db, repoId: number, model: string, alias: string, limit: number, offset: number) {
  const base = db.selectFrom('model_alias_history').where('repo_id', '=', repoId).where('model', '=', model).where('alias', '=', alias);
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy('id', 'desc').limit(limit).offset(offset).execute(),
    base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export async function addApproval(db: Db, row: { repoId: number; model: string; version: number; alias: string; userId: number }): Promise<void> {
  await db
    .insertInto('model_approvals')
    .values({ repo_id: row.repoId, model: row.model, version: row.version, alias: row.alias, user_id: row.userId })
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function approvers(db: Db, repoId: number, model: string, version: number, alias: string): Promise<string[]> {
  const rows = await db
    .selectFrom('model_approvals')
    .innerJoin('users', 'users.id', 'model_approvals.user_id')
    .select('users.username')
    .where('repo_id', '=', repoId)
    .where('model', '=', model)
    .where('version', '=', version)
    .where('alias', '=', alias)
    .orderBy('users.username')
    .execute();
  return rows.map((r) => r.username);
}

/** Every version and alias of a repository, for re-deriving its refs (mlgit doctor). */
export async function refsOfRepo(db: Db, repoId: number) {
  const [versions, aliases] = await Promise.all([
    db.selectFrom('model_versions').select(['model', 'version', 'commit_sha']).where('repo_id', '=', repoId).orderBy('model').orderBy('version').execute(),
    db.selectFrom('model_aliases').select(['model', 'alias']).where('repo_id', '=', repoId).orderBy('model').orderBy('alias').execute(),
  ]);
  return { versions, aliases };
}

/** The commit of the version an alias names now (null: no such alias): what its ref must point at. */
export async function aliasCommit(db: Db, repoId: number, model: string, alias: string): Promise<string | null> {
  const row = await db
    .selectFrom('model_aliases')
    .innerJoin('model_versions', (join) =>
      join.onRef('model_versions.repo_id', '=', 'model_aliases.repo_id').onRef('model_versions.model', '=', 'model_aliases.model').onRef('model_versions.version', '=', 'model_aliases.version'),
    )
    .select('model_versions.commit_sha')
    .where('model_aliases.repo_id', '=', repoId)
    .where('model_aliases.model', '=', model)
    .where('model_aliases.alias', '=', alias)
    .executeTakeFirst();
  return row?.commit_sha ?? null;
}
