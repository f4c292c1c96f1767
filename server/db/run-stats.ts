import type { Db } from './connect.ts';

/** Runs not final yet, by status (queued, running): what the metrics gauge shows. Finished runs are counted as they finish. */
export async function unfinishedRunCounts(db: Db): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('runs')
    .select(['status', db.fn.countAll<string>().as('count')])
    .where('status', 'in', ['queued', 'running'])
    .groupBy('status')
    .execute();
  const counts: Record<string, number> = { queued: 0, running: 0 };
  for (const row of rows) counts[row.status] = Number(row.count);
  return counts;
}

/** When the oldest run still waiting for a job slot was created, or null. */
export async function oldestQueuedRun(db: Db): Promise<Date | null> {
  const row = await db.selectFrom('runs').select((eb) => eb.fn.min('created_at').as('oldest')).where('status', '=', 'queued').executeTakeFirst();
  return row?.oldest ? new Date(row.oldest as unknown as string | Date) : null;
}
