// The push outbox (migrations/20261203T0900_push_outbox.ts). Claims are single UPDATE ...
// RETURNING statements: Postgres re-checks the WHERE clause on a row another transaction just
// claimed, so two claimers (post-receive and a reconciler, or two nodes) never both get a row.
import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { Db } from './connect.ts';
import { insertPushes } from './pushes.ts';
import { markPushed } from './repos.ts';
import type { PushOutboxTable } from './tables.ts';

export type PushOutboxRow = Selectable<PushOutboxTable>;

export interface NewOutboxRow {
  readonly session: string;
  readonly repoId: number;
  readonly pusherId: number | null;
  readonly ref: string;
  readonly oldSha: string;
  readonly newSha: string;
  readonly pushOptions: readonly string[];
}

/** One statement, so a push's ref updates are recorded all or none. */
export async function insertPending(db: Db, rows: readonly NewOutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('push_outbox')
    .values(
      rows.map((r) => ({
        session: r.session,
        repo_id: r.repoId,
        pusher_id: r.pusherId,
        ref: r.ref,
        old_sha: r.oldSha,
        new_sha: r.newSha,
        push_options: JSON.stringify(r.pushOptions),
      })),
    )
    .execute();
}

/**
 * Whether another push made the same ref update after this row was written: a later outbox row
 * for it, or a push recorded since. Of identical updates (same ref, old and new value) only one
 * can have moved the ref, and it is never the earlier of two whose later one exists: a push git
 * applied leaves nothing for an identical retry to do.
 */
export async function sameUpdateSince(db: Db, row: PushOutboxRow): Promise<boolean> {
  const same = sql<boolean>`repo_id = ${row.repo_id} and ref = ${row.ref} and old_sha = ${row.old_sha} and new_sha = ${row.new_sha}`;
  const later = await db.selectFrom('push_outbox').select('id').where(same).where('id', '>', row.id).limit(1).executeTakeFirst();
  if (later) return true;
  const recorded = await db.selectFrom('pushes').select('id').where(same).where('created_at', '>=', row.created_at).limit(1).executeTakeFirst();
  return recorded !== undefined;
}

const unclaimed = sql<boolean>`(claimed_until is null or claimed_until < now())`;
const leaseEnd = (leaseMs: number) => sql<Date>`now() + ${leaseMs} * interval '1 millisecond'`;

/** The rows of one push (post-receive), unless someone holds them. */
export function claimSession(db: Db, session: string, leaseMs: number): Promise<PushOutboxRow[]> {
  return db
    .updateTable('push_outbox')
    .set({ claimed_until: leaseEnd(leaseMs) })
    .where('session', '=', session)
    .where(unclaimed)
    .returningAll()
    .execute();
}

/** Rows older than `graceMs` that nobody holds, except those of pushes this process still runs. */
export function claimStale(db: Db, graceMs: number, excludeSessions: readonly string[], leaseMs: number, limit: number): Promise<PushOutboxRow[]> {
  return db
    .updateTable('push_outbox')
    .set({ claimed_until: leaseEnd(leaseMs) })
    .where('id', 'in', (q) => {
      let pick = q
        .selectFrom('push_outbox')
        .select('id')
        .where('created_at', '<', sql<Date>`now() - ${graceMs} * interval '1 millisecond'`)
        .where(unclaimed);
      if (excludeSessions.length > 0) pick = pick.where('session', 'not in', excludeSessions);
      return pick.orderBy('id').limit(limit);
    })
    .where(unclaimed)
    .returningAll()
    .execute();
}

/** The push row and the row's new state in one transaction: a retry never records a push twice. */
export async function recordPush(db: Db, row: PushOutboxRow): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await insertPushes(tx, row.repo_id, row.pusher_id, [{ ref: row.ref, oldSha: row.old_sha, newSha: row.new_sha }]);
    await markPushed(tx, row.repo_id);
    await tx.updateTable('push_outbox').set({ state: 'recorded' }).where('id', '=', row.id).execute();
  });
}

export async function remove(db: Db, ids: readonly number[]): Promise<void> {
  if (ids.length > 0) await db.deleteFrom('push_outbox').where('id', 'in', ids).execute();
}

/** Renews the claim on rows still being worked on. */
export async function extend(db: Db, ids: readonly number[], leaseMs: number): Promise<void> {
  if (ids.length > 0) await db.updateTable('push_outbox').set({ claimed_until: leaseEnd(leaseMs) }).where('id', 'in', ids).execute();
}

/** Lets a row go at once after a failure, so the next reconciler pass retries it. */
export async function release(db: Db, id: number): Promise<void> {
  await db.updateTable('push_outbox').set({ claimed_until: null }).where('id', '=', id).execute();
}

export async function backlog(db: Db): Promise<number> {
  const row = await db.selectFrom('push_outbox').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}
