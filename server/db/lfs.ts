import { sql } from 'kysely';
import type { Db } from './connect.ts';

/** Oids among `oids` that repo `repoId` may serve, with their sizes. */
export async function repoObjects(db: Db, repoId: number, oids: readonly string[]): Promise<Map<string, number>> {
  if (oids.length === 0) return new Map();
  const rows = await db
    .selectFrom('lfs_repo_objects')
    .innerJoin('lfs_objects', 'lfs_objects.oid', 'lfs_repo_objects.oid')
    .select(['lfs_objects.oid', 'lfs_objects.size'])
    .where('lfs_repo_objects.repo_id', '=', repoId)
    .where('lfs_objects.oid', 'in', oids)
    .execute();
  return new Map(rows.map((r) => [r.oid, Number(r.size)]));
}

/** Oids among `oids` that any repo has recorded (the store may hold their bytes), with their sizes. */
export async function knownObjects(db: Db, oids: readonly string[]): Promise<Map<string, number>> {
  if (oids.length === 0) return new Map();
  const rows = await db.selectFrom('lfs_objects').select(['oid', 'size']).where('oid', 'in', oids).execute();
  return new Map(rows.map((r) => [r.oid, Number(r.size)]));
}

export interface ObjectRecord {
  readonly oid: string;
  readonly size: number;
  readonly repoId: number;
}

/**
 * Records verified objects and that their repos reference them (idempotent), in one statement:
 * one round trip and one commit however many there are. The object rows go in first through
 * a data-modifying CTE; the foreign keys are checked at the end of the statement, when both exist.
 */
export async function recordObjects(db: Db, records: readonly ObjectRecord[]): Promise<void> {
  if (records.length === 0) return;
  const objects = [...new Map(records.map((r) => [r.oid, { oid: r.oid, size: r.size }])).values()];
  await db
    .with('new_objects', (q) => q.insertInto('lfs_objects').values(objects).onConflict((oc) => oc.column('oid').doNothing()))
    .insertInto('lfs_repo_objects')
    .values(records.map((r) => ({ repo_id: r.repoId, oid: r.oid })))
    .onConflict((oc) => oc.columns(['repo_id', 'oid']).doNothing())
    .execute();
}

/** A fork may serve what its source could at the time of forking. */
export async function inheritObjects(db: Db, fromRepoId: number, toRepoId: number): Promise<void> {
  await sql`
    insert into lfs_repo_objects (repo_id, oid, uploader_id)
    select ${toRepoId}, oid, uploader_id from lfs_repo_objects where repo_id = ${fromRepoId}
    on conflict do nothing`.execute(db);
}

export function listRepoObjects(db: Db, repoId: number, limit: number, offset: number) {
  return db
    .selectFrom('lfs_repo_objects')
    .innerJoin('lfs_objects', 'lfs_objects.oid', 'lfs_repo_objects.oid')
    .select(['lfs_objects.oid', 'lfs_objects.size', 'lfs_repo_objects.created_at'])
    .where('lfs_repo_objects.repo_id', '=', repoId)
    .orderBy('lfs_repo_objects.created_at', 'desc')
    .orderBy('lfs_objects.oid')
    .limit(limit)
    .offset(offset)
    .execute();
}

export async function repoUsage(db: Db, repoId: number): Promise<{ objects: number; bytes: number }> {
  const row = await db
    .selectFrom('lfs_repo_objects')
    .innerJoin('lfs_objects', 'lfs_objects.oid', 'lfs_repo_objects.oid')
    .select((eb) => [eb.fn.countAll<string>().as('objects'), eb.fn.coalesce(eb.fn.sum<string>('lfs_objects.size'), sql<string>`0`).as('bytes')])
    .where('lfs_repo_objects.repo_id', '=', repoId)
    .executeTakeFirstOrThrow();
  return { objects: Number(row.objects), bytes: Number(row.bytes) };
}

/** Distinct objects referenced by the repos a user owns (each object counted once). */
export async function userUsage(db: Db, userId: number): Promise<{ objects: number; bytes: number }> {
  const row = await sql<{ objects: string; bytes: string }>`
    select count(*) as objects, coalesce(sum(size), 0) as bytes from lfs_objects
    where oid in (select ro.oid from lfs_repo_objects ro join repos r on r.id = ro.repo_id where r.owner_id = ${userId})`.execute(db);
  return { objects: Number(row.rows[0]?.objects ?? 0), bytes: Number(row.rows[0]?.bytes ?? 0) };
}

export function unreferencedObjects(db: Db) {
  return db
    .selectFrom('lfs_objects')
    .select(['oid', 'size'])
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('lfs_repo_objects').select('repo_id').whereRef('lfs_repo_objects.oid', '=', 'lfs_objects.oid'))))
    // Run outputs share the content-addressed store: bytes a run produced stay while the run does.
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('run_outputs').select('run_id').whereRef('run_outputs.oid', '=', 'lfs_objects.oid'))))
    .execute();
}

/** Removes the object row unless a reference appeared meanwhile; true when it was removed. */
export async function deleteObjectIfUnreferenced(db: Db, oid: string): Promise<boolean> {
  const result = await db
    .deleteFrom('lfs_objects')
    .where('oid', '=', oid)
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('lfs_repo_objects').select('repo_id').where('lfs_repo_objects.oid', '=', oid))))
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('run_outputs').select('run_id').where('run_outputs.oid', '=', oid))))
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
