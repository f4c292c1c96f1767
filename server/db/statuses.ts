import type { Db } from './connect.ts';
import type { CommitStatusRow } from './tables.ts';

export type { CommitStatusRow };

/** Inserts a status and answers it as the lists do, with its creator's name. */
export function insertStatus(
  db: Db,
  values: { repoId: number; sha: string; state: string; context: string; description: string | null; targetUrl: string | null; metrics: Record<string, number> | null; creatorId: number | null },
): Promise<CommitStatusRow & { creator: string | null }> {
  return db
    .with('inserted', (qb) =>
      qb
        .insertInto('commit_statuses')
        .values({
          repo_id: values.repoId,
          sha: values.sha,
          state: values.state,
          context: values.context,
          description: values.description,
          target_url: values.targetUrl,
          metrics: values.metrics ? JSON.stringify(values.metrics) : null,
          creator_id: values.creatorId,
        })
        .returningAll(),
    )
    .selectFrom('inserted')
    .leftJoin('users', 'users.id', 'inserted.creator_id')
    .selectAll('inserted')
    .select('users.username as creator')
    .executeTakeFirstOrThrow();
}

/** Every status of a commit, newest first. */
export async function listStatuses(db: Db, repoId: number, sha: string, limit: number, offset: number): Promise<{ rows: (CommitStatusRow & { creator: string | null })[]; total: number }> {
  const [rows, count] = await Promise.all([
    db
      .selectFrom('commit_statuses')
      .leftJoin('users', 'users.id', 'commit_statuses.creator_id')
      .selectAll('commit_statuses')
      .select('users.username as creator')
      .where('repo_id', '=', repoId)
      .where('sha', '=', sha)
      .orderBy('commit_statuses.id', 'desc')
      .limit(limit)
      .offset(offset)
      .execute(),
    db.selectFrom('commit_statuses').select((eb) => eb.fn.countAll<string>().as('n')).where('repo_id', '=', repoId).where('sha', '=', sha).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** The newest status per context (what the combined state is made of). */
export function latestPerContext(db: Db, repoId: number, sha: string): Promise<(CommitStatusRow & { creator: string | null })[]> {
  return db
    .selectFrom('commit_statuses')
    .leftJoin('users', 'users.id', 'commit_statuses.creator_id')
    .distinctOn('commit_statuses.context')
    .selectAll('commit_statuses')
    .select('users.username as creator')
    .where('repo_id', '=', repoId)
    .where('sha', '=', sha)
    .orderBy('commit_statuses.context')
    .orderBy('commit_statuses.id', 'desc')
    .execute();
}
