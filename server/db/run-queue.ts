// The queries of fair scheduling (server/domain/runs/queue-policy.ts). A run is "in flight" from
// the moment it is handed to the job queue (enqueued_at set) until it finishes.
import { sql } from 'kysely';
import type { Db } from './connect.ts';

export interface QueuedRunRef {
  id: number;
  attempt: number;
  repoId: number;
  ownerId: number;
}

export async function runsInFlight(db: Db): Promise<{ repoId: number; ownerId: number }[]> {
  const { rows } = await sql<{ repo_id: number; owner_id: number }>`
    select runs.repo_id, repos.owner_id from runs join repos on repos.id = runs.repo_id
    where runs.status = 'running' or (runs.status = 'queued' and runs.enqueued_at is not null)`.execute(db);
  return rows.map((r) => ({ repoId: r.repo_id, ownerId: r.owner_id }));
}

/**
 * Queued runs not yet handed to the queue whose dependencies all ended in one of `satisfying`:
 * the oldest `perRepo` of each repository, enough for any pick of that many slots.
 */
export async function readyRuns(db: Db, satisfying: readonly string[], perRepo: number): Promise<QueuedRunRef[]> {
  const { rows } = await sql<{ id: number; attempt: number; repo_id: number; owner_id: number }>`
    select id, attempt, repo_id, owner_id from (
      select runs.id, runs.attempt, runs.repo_id, repos.owner_id,
             row_number() over (partition by runs.repo_id order by runs.id) as nth
      from runs join repos on repos.id = runs.repo_id
      where runs.status = 'queued' and runs.enqueued_at is null
        and not exists (select 1 from runs dep where dep.id = any(runs.depends_on) and dep.status <> all(${[...satisfying]}::text[]))
    ) ready
    where nth <= ${perRepo}
    order by id`.execute(db);
  return rows.map((r) => ({ id: r.id, attempt: r.attempt, repoId: r.repo_id, ownerId: r.owner_id }));
}

/** Marks a waiting run as handed to the queue; false when it was meanwhile handed, cancelled or claimed. */
export async function markEnqueuedIfWaiting(db: Db, id: number): Promise<boolean> {
  const row = await db
    .updateTable('runs')
    .set({ enqueued_at: sql<Date>`now()` as unknown as Date })
    .where('id', '=', id)
    .where('status', '=', 'queued')
    .where('enqueued_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Queued runs (waiting or in the queue) of an owner, and of one of its repositories. */
export async function queuedCounts(db: Db, ownerId: number, repoId: number): Promise<{ owner: number; repo: number }> {
  const { rows } = await sql<{ owner: string; repo: string }>`
    select count(*) as owner, count(*) filter (where runs.repo_id = ${repoId}) as repo
    from runs join repos on repos.id = runs.repo_id
    where runs.status = 'queued' and repos.owner_id = ${ownerId}`.execute(db);
  return { owner: Number(rows[0]?.owner ?? 0), repo: Number(rows[0]?.repo ?? 0) };
}
