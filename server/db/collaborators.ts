import type { Db } from './connect.ts';

export async function findRole(db: Db, repoId: number, userId: number): Promise<string | null> {
  const row = await db.selectFrom('collaborators').select('role').where('repo_id', '=', repoId).where('user_id', '=', userId).executeTakeFirst();
  return row?.role ?? null;
}

export async function upsertCollaborator(db: Db, repoId: number, userId: number, role: string): Promise<void> {
  await db
    .insertInto('collaborators')
    .values({ repo_id: repoId, user_id: userId, role })
    .onConflict((oc) => oc.columns(['repo_id', 'user_id']).doUpdateSet({ role }))
    .execute();
}

export async function deleteCollaborator(db: Db, repoId: number, userId: number): Promise<boolean> {
  const result = await db.deleteFrom('collaborators').where('repo_id', '=', repoId).where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export function listCollaborators(db: Db, repoId: number): Promise<{ username: string; role: string }[]> {
  return db
    .selectFrom('collaborators')
    .innerJoin('users', 'users.id', 'collaborators.user_id')
    .select(['users.username', 'collaborators.role'])
    .where('collaborators.repo_id', '=', repoId)
    .orderBy('users.username')
    .execute();
}

/** Whether the user may read the repo whatever its visibility: its owner, a collaborator, or a site admin. */
export async function readsPrivate(db: Db, repoId: number, userId: number): Promise<boolean> {
  const row = await db
    .selectNoFrom((eb) =>
      eb
        .or([
          eb.exists(eb.selectFrom('repos').select('id').where('id', '=', repoId).where('owner_id', '=', userId)),
          eb.exists(eb.selectFrom('collaborators').select('repo_id').where('repo_id', '=', repoId).where('user_id', '=', userId)),
          eb.exists(eb.selectFrom('users').select('id').where('id', '=', userId).where('is_admin', '=', true)),
        ])
        .as('reads'),
    )
    .executeTakeFirstOrThrow();
  return row.reads === true;
}
