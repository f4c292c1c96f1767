import type { Db } from './connect.ts';

export async function insertPushes(
  db: Db,
  repoId: number,
  pusherId: number | null,
  updates: readonly { ref: string; oldSha: string; newSha: string }[],
): Promise<void> {
  if (updates.length === 0) return;
  await db
    .insertInto('pushes')
    .values(updates.map((u) => ({ repo_id: repoId, pusher_id: pusherId, ref: u.ref, old_sha: u.oldSha, new_sha: u.newSha })))
    .execute();
}

export function listPushes(db: Db, repoId: number, limit: number) {
  return db
    .selectFrom('pushes')
    .leftJoin('users', 'users.id', 'pushes.pusher_id')
    .select(['pushes.id', 'pushes.ref', 'pushes.old_sha', 'pushes.new_sha', 'pushes.created_at', 'users.username as pusher'])
    .where('pushes.repo_id', '=', repoId)
    .orderBy('pushes.id', 'desc')
    .limit(limit)
    .execute();
}
