import type { Db } from './connect.ts';
import type { RunRow } from './tables.ts';

/** What deleting a user has to deal with before the row goes (SQL for server/domain/user-admin.ts). */

export function ownedRepos(db: Db, userId: number): Promise<{ id: number; name: string }[]> {
  return db.selectFrom('repos').select(['id', 'name']).where('owner_id', '=', userId).orderBy('id').execute();
}

/** Queued or running runs the user started, and with `inOwnedRepos` every such run in their repos too. */
export function activeRuns(db: Db, userId: number, inOwnedRepos: boolean): Promise<RunRow[]> {
  return db
    .selectFrom('runs')
    .selectAll()
    .where('status', 'in', ['queued', 'running'])
    .where((eb) =>
      inOwnedRepos
        ? eb.or([eb('created_by', '=', userId), eb('repo_id', 'in', eb.selectFrom('repos').select('id').where('owner_id', '=', userId))])
        : eb('created_by', '=', userId),
    )
    .orderBy('id')
    .execute();
}

/** Moves every repo of one user to another; the new owner stops being a collaborator on them (owners never are). */
export async function transferRepos(db: Db, fromUserId: number, toUserId: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .deleteFrom('collaborators')
      .where('user_id', '=', toUserId)
      .where('repo_id', 'in', trx.selectFrom('repos').select('id').where('owner_id', '=', fromUserId))
      .execute();
    await trx.updateTable('repos').set({ owner_id: toUserId, updated_at: new Date() }).where('owner_id', '=', fromUserId).execute();
  });
}
