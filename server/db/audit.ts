import type { Db } from './connect.ts';
import type { AuditRow } from './tables.ts';

export type { AuditRow };

export async function insertAudit(
  db: Db,
  entry: { action: string; actorId: number | null; actorName: string | null; target: string | null; details: Record<string, unknown> | null; address: string | null },
): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      action: entry.action,
      actor_id: entry.actorId,
      actor_name: entry.actorName,
      target: entry.target,
      details: entry.details ? JSON.stringify(entry.details) : null,
      address: entry.address,
    })
    .execute();
}

/** Newest first, optionally one action or one actor name. */
export async function listAudit(db: Db, filter: { action: string | null; actor: string | null }, limit: number, offset: number): Promise<{ rows: AuditRow[]; total: number }> {
  let query = db.selectFrom('audit_log');
  if (filter.action) query = query.where('action', '=', filter.action);
  if (filter.actor) query = query.where('actor_name', '=', filter.actor);
  const [rows, count] = await Promise.all([
    query.selectAll().orderBy('id', 'desc').limit(limit).offset(offset).execute(),
    query.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}
