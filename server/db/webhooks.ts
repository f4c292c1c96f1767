import { sql } from 'kysely';
import type { Db } from './connect.ts';
import type { WebhookDeliveryRow, WebhookRow } from './tables.ts';

export type { WebhookDeliveryRow, WebhookRow };

export function insertHook(db: Db, values: { repoId: number; url: string; secretEnc: string | null; events: string[]; active: boolean; creatorId: number | null }): Promise<WebhookRow> {
  return db
    .insertInto('webhooks')
    .values({ repo_id: values.repoId, url: values.url, secret_enc: values.secretEnc, events: values.events, active: values.active, creator_id: values.creatorId })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findHook(db: Db, repoId: number, id: number): Promise<WebhookRow | undefined> {
  return db.selectFrom('webhooks').selectAll().where('repo_id', '=', repoId).where('id', '=', id).executeTakeFirst();
}

export function findHookById(db: Db, id: number): Promise<WebhookRow | undefined> {
  return db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listHooks(db: Db, repoId: number, limit: number, offset: number): Promise<{ rows: WebhookRow[]; total: number }> {
  const [rows, count] = await Promise.all([
    db.selectFrom('webhooks').selectAll().where('repo_id', '=', repoId).orderBy('id').limit(limit).offset(offset).execute(),
    db.selectFrom('webhooks').select((eb) => eb.fn.countAll<string>().as('n')).where('repo_id', '=', repoId).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** Active hooks of a repo subscribed to `event` (one indexed probe; most repos have none). */
export function activeHooksFor(db: Db, repoId: number, event: string): Promise<WebhookRow[]> {
  return db
    .selectFrom('webhooks')
    .selectAll()
    .where('repo_id', '=', repoId)
    .where('active', '=', true)
    .where(sql<boolean>`${event} = any(events)`)
    .orderBy('id')
    .execute();
}

export function updateHook(
  db: Db,
  id: number,
  changes: Partial<Pick<WebhookRow, 'url' | 'secret_enc' | 'events' | 'active' | 'consecutive_failures' | 'disabled_reason'>>,
): Promise<WebhookRow | undefined> {
  return db
    .updateTable('webhooks')
    .set({ ...changes, updated_at: sql`now()` as unknown as Date })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteHook(db: Db, repoId: number, id: number): Promise<boolean> {
  const result = await db.deleteFrom('webhooks').where('repo_id', '=', repoId).where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** A delivery that finally succeeded clears the failure streak. */
export async function resetFailures(db: Db, hookId: number): Promise<void> {
  await db.updateTable('webhooks').set({ consecutive_failures: 0 }).where('id', '=', hookId).where('consecutive_failures', '>', 0).execute();
}

/**
 * One more failed delivery; at `disableAfter` in a row the hook is switched off with `reason`.
 * A single statement, so concurrent failures count exactly.
 */
export function recordFailure(db: Db, hookId: number, disableAfter: number, reason: string): Promise<{ active: boolean; consecutive_failures: number } | undefined> {
  return db
    .updateTable('webhooks')
    .set({
      consecutive_failures: sql`consecutive_failures + 1`,
      active: sql`case when consecutive_failures + 1 >= ${disableAfter} then false else active end`,
      disabled_reason: sql`case when consecutive_failures + 1 >= ${disableAfter} and active then ${reason} else disabled_reason end`,
    })
    .where('id', '=', hookId)
    .returning(['active', 'consecutive_failures'])
    .executeTakeFirst();
}

export interface NewDelivery {
  id: string;
  hookId: number | null;
  repoId: number | null;
  event: string;
  url: string;
  secretEnc: string | null;
  requestBody: string;
  redeliveryOf?: string | null;
}

export async function insertDeliveries(db: Db, deliveries: readonly NewDelivery[]): Promise<void> {
  if (deliveries.length === 0) return;
  await db
    .insertInto('webhook_deliveries')
    .values(
      deliveries.map((d) => ({
        id: d.id,
        hook_id: d.hookId,
        repo_id: d.repoId,
        event: d.event,
        url: d.url,
        secret_enc: d.secretEnc,
        request_body: d.requestBody,
        redelivery_of: d.redeliveryOf ?? null,
      })),
    )
    .execute();
}

/**
 * Claims attempt number `attempt` of a pending delivery: only one job can move `attempts` from
 * attempt-1 to attempt, so a duplicated job (a queue redelivering after a crash) sends nothing twice.
 */
export function claimAttempt(db: Db, id: string, attempt: number): Promise<WebhookDeliveryRow | undefined> {
  return db
    .updateTable('webhook_deliveries')
    .set({ attempts: attempt, last_attempt_at: sql`now()` as unknown as Date, next_attempt_at: null })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('attempts', '=', attempt - 1)
    .returningAll()
    .executeTakeFirst();
}

export interface AttemptRecord {
  status: 'pending' | 'delivered' | 'failed';
  requestHeaders: Record<string, string>;
  responseStatus: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  error: string | null;
  durationMs: number;
  nextAttemptAt: Date | null;
}

export async function recordAttempt(db: Db, id: string, record: AttemptRecord): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({
      status: record.status,
      request_headers: JSON.stringify(record.requestHeaders),
      response_status: record.responseStatus,
      response_headers: record.responseHeaders ? JSON.stringify(record.responseHeaders) : null,
      response_body: record.responseBody,
      error: record.error,
      duration_ms: Math.round(record.durationMs),
      next_attempt_at: record.nextAttemptAt,
    })
    .where('id', '=', id)
    .execute();
}

export function findDelivery(db: Db, hookId: number, id: string): Promise<WebhookDeliveryRow | undefined> {
  return db.selectFrom('webhook_deliveries').selectAll().where('hook_id', '=', hookId).where('id', '=', id).executeTakeFirst();
}

export async function listDeliveries(db: Db, hookId: number, limit: number, offset: number): Promise<{ rows: WebhookDeliveryRow[]; total: number }> {
  const [rows, count] = await Promise.all([
    db.selectFrom('webhook_deliveries').selectAll().where('hook_id', '=', hookId).orderBy('created_at', 'desc').orderBy('id').limit(limit).offset(offset).execute(),
    db.selectFrom('webhook_deliveries').select((eb) => eb.fn.countAll<string>().as('n')).where('hook_id', '=', hookId).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** Finished deliveries older than `before`; pending ones are still someone's work. */
export async function pruneDeliveries(db: Db, before: Date): Promise<number> {
  const result = await db.deleteFrom('webhook_deliveries').where('created_at', '<', before).where('status', '<>', 'pending').executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Pending deliveries nobody is working on: their next attempt was due (or their last attempt
 * started) before `before`. After a crash or a restart of the in-process queue, these are lost jobs.
 */
export function stalledDeliveries(db: Db, before: Date, limit: number): Promise<{ id: string; attempts: number }[]> {
  return db
    .selectFrom('webhook_deliveries')
    .select(['id', 'attempts'])
    .where('status', '=', 'pending')
    .where(sql<Date>`coalesce(next_attempt_at, last_attempt_at, created_at)`, '<', before)
    .orderBy('created_at')
    .limit(limit)
    .execute();
}
