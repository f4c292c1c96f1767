import type { Db } from './connect.ts';

function withOwner(db: Db) {
  return db
    .selectFrom('lfs_locks')
    .innerJoin('users', 'users.id', 'lfs_locks.owner_id')
    .select(['lfs_locks.id', 'lfs_locks.path', 'lfs_locks.locked_at', 'lfs_locks.owner_id', 'users.username as owner']);
}

export type LockRow = Awaited<ReturnType<typeof findLock>> & object;

/** Lock ids are looked up only together with their repo: an id from another repo is not found. */
export function findLock(db: Db, repoId: number, id: number) {
  return withOwner(db).where('lfs_locks.repo_id', '=', repoId).where('lfs_locks.id', '=', id).executeTakeFirst();
}

export function findLockByPath(db: Db, repoId: number, path: string) {
  return withOwner(db).where('lfs_locks.repo_id', '=', repoId).where('lfs_locks.path', '=', path).executeTakeFirst();
}

export async function insertLock(db: Db, repoId: number, path: string, ref: string | null, ownerId: number): Promise<number> {
  const row = await db.insertInto('lfs_locks').values({ repo_id: repoId, path, ref, owner_id: ownerId }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

/** Locks ordered by id; `afterId` is the cursor (exclusive). */
export function listLocks(db: Db, repoId: number, filter: { path?: string; id?: number; afterId: number; limit: number; ownerId?: number }) {
  let query = withOwner(db).where('lfs_locks.repo_id', '=', repoId).where('lfs_locks.id', '>', filter.afterId);
  if (filter.path !== undefined) query = query.where('lfs_locks.path', '=', filter.path);
  if (filter.id !== undefined) query = query.where('lfs_locks.id', '=', filter.id);
  return query.orderBy('lfs_locks.id').limit(filter.limit).execute();
}

export async function deleteLock(db: Db, repoId: number, id: number): Promise<void> {
  await db.deleteFrom('lfs_locks').where('repo_id', '=', repoId).where('id', '=', id).execute();
}

