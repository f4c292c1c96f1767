import { sql } from 'kysely';
import type { Db } from './connect.ts';
import type { Insertable } from 'kysely';
import type { RunRow, RunsTable } from './tables.ts';

/** A run as dispatch creates it; the lifecycle columns keep their defaults. */
export type NewRunRow = Pick<
  Insertable<RunsTable>,
  'repo_id' | 'commit_sha' | 'ref' | 'dispatch_id' | 'project' | 'job_id' | 'job' | 'kind' | 'trigger' | 'depends_on' | 'cache_key' | 'cached_from' | 'created_by'
> & {
  status: 'queued' | 'cached' | 'error' | 'success' | 'failed';
  spec: unknown;
  message?: string | null;
};

export async function insertRun(db: Db, row: NewRunRow): Promise<RunRow> {
  const finished = row.status === 'queued' ? null : sql<Date>`now()`;
  return db
    .insertInto('runs')
    .values({ ...row, spec: JSON.stringify(row.spec), message: row.message ?? null, finished_at: finished as unknown as Date | null })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findRun(db: Db, id: number): Promise<RunRow | undefined> {
  return db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface RunFilter {
  repoId: number;
  ref?: string;
  commit?: string;
  status?: string;
  job?: string;
}

function filtered(db: Db, f: RunFilter) {
  let q = db.selectFrom('runs').where('repo_id', '=', f.repoId);
  if (f.ref) q = q.where('ref', '=', f.ref);
  if (f.commit) q = q.where('commit_sha', 'like', `${f.commit}%`);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.job) q = q.where('job', '=', f.job);
  return q;
}

export async function listRuns(db: Db, f: RunFilter, limit: number, offset: number): Promise<{ rows: RunRow[]; total: number }> {
  const [rows, count] = await Promise.all([
    filtered(db, f).selectAll().orderBy('id', 'desc').limit(limit).offset(offset).execute(),
    filtered(db, f).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export function runsOfDispatch(db: Db, dispatchId: string): Promise<RunRow[]> {
  return db.selectFrom('runs').selectAll().where('dispatch_id', '=', dispatchId).orderBy('id').execute();
}

/** The latest attempt of every job on a commit (what the note and the metrics API show). */
export function latestRunsOfCommit(db: Db, repoId: number, commitSha: string): Promise<RunRow[]> {
  return latestRunsOfCommits(db, [{ repoId, commitSha }]);
}

/** latestRunsOfCommit of several commits (of one or several repos) in one query: a page lists many. */
export function latestRunsOfCommits(db: Db, commits: readonly { repoId: number; commitSha: string }[]): Promise<RunRow[]> {
  if (commits.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('runs')
    .selectAll()
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('runs as r')
        .select((e) => e.fn.max('r.id').as('id'))
        .where((e) => e(e.refTuple('r.repo_id', 'r.commit_sha'), 'in', commits.map((c) => e.tuple(c.repoId, c.commitSha))))
        .groupBy(['r.repo_id', 'r.commit_sha', 'r.job']),
    )
    .orderBy('job')
    .execute();
}

/** The newest run on a ref of each of several repos (one query: the explore page shows 20 repos). */
export function latestRunOnRefs(db: Db, refs: readonly { repoId: number; ref: string }[]): Promise<RunRow[]> {
  if (refs.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('runs')
    .selectAll()
    .distinctOn('repo_id')
    .where((e) => e(e.refTuple('repo_id', 'ref'), 'in', refs.map((r) => e.tuple(r.repoId, r.ref))))
    .orderBy('repo_id')
    .orderBy('id', 'desc')
    .execute();
}

/** A successful run of this repo with the same cache key (the run a cache hit reuses). */
export function successfulRunByCacheKey(db: Db, repoId: number, cacheKey: string): Promise<RunRow | undefined> {
  return db
    .selectFrom('runs')
    .selectAll()
    .where('repo_id', '=', repoId)
    .where('cache_key', '=', cacheKey)
    .where('status', '=', 'success')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export async function markEnqueued(db: Db, id: number): Promise<void> {
  await db.updateTable('runs').set({ enqueued_at: sql<Date>`now()` as unknown as Date }).where('id', '=', id).execute();
}

/** queued -> running for exactly one runner; undefined when the run is no longer queued. */
export function claim(db: Db, id: number, runner: string): Promise<RunRow | undefined> {
  return db
    .updateTable('runs')
    .set({ status: 'running', runner, started_at: sql<Date>`now()` as unknown as Date, heartbeat_at: sql<Date>`now()` as unknown as Date })
    .where('id', '=', id)
    .where('status', '=', 'queued')
    .where('cancel_requested', '=', false)
    .returningAll()
    .executeTakeFirst();
}

/** Records that the runner of this attempt is alive; returns whether a cancel was requested, or undefined when the attempt is over. */
export async function heartbeat(db: Db, id: number, attempt: number): Promise<boolean | undefined> {
  const row = await db
    .updateTable('runs')
    .set({ heartbeat_at: sql<Date>`now()` as unknown as Date })
    .where('id', '=', id)
    .where('attempt', '=', attempt)
    .where('status', '=', 'running')
    .returning('cancel_requested')
    .executeTakeFirst();
  return row?.cancel_requested;
}

export interface Finish {
  status: string;
  exitCode: number | null;
  message: string | null;
}

/** running (this attempt) -> a final status; undefined when the attempt was already settled (stale runner). */
export function finish(db: Db, id: number, attempt: number, f: Finish): Promise<RunRow | undefined> {
  return db
    .updateTable('runs')
    .set({ status: f.status, exit_code: f.exitCode, message: f.message, finished_at: sql<Date>`now()` as unknown as Date })
    .where('id', '=', id)
    .where('attempt', '=', attempt)
    .where('status', '=', 'running')
    .returningAll()
    .executeTakeFirst();
}

/** A retry: the same run goes back to the queue as the next attempt. */
export function requeue(db: Db, id: number, attempt: number, message: string): Promise<RunRow | undefined> {
  return db
    .updateTable('runs')
    .set({ status: 'queued', attempt: attempt + 1, message, runner: null, started_at: null, heartbeat_at: null, exit_code: null, enqueued_at: null })
    .where('id', '=', id)
    .where('attempt', '=', attempt)
    .where('status', '=', 'running')
    .returningAll()
    .executeTakeFirst();
}

/** Queued runs end at once; running ones are flagged and their runner stops them. */
export async function cancelQueued(db: Db, ids: number[], message: string): Promise<RunRow[]> {
  if (ids.length === 0) return [];
  return db
    .updateTable('runs')
    .set({ status: 'cancelled', message, finished_at: sql<Date>`now()` as unknown as Date })
    .where('id', 'in', ids)
    .where('status', '=', 'queued')
    .returningAll()
    .execute();
}

export async function requestCancel(db: Db, id: number): Promise<void> {
  await db.updateTable('runs').set({ cancel_requested: true }).where('id', '=', id).where('status', '=', 'running').execute();
}

/** Queued runs of a ref made before `beforeRunId` (by older pushes: ids grow with time), manual ones aside. */
export function queuedRunsOfRef(db: Db, repoId: number, ref: string, beforeRunId: number): Promise<RunRow[]> {
  return db
    .selectFrom('runs')
    .selectAll()
    .where('repo_id', '=', repoId)
    .where('ref', '=', ref)
    .where('status', '=', 'queued')
    .where('id', '<', beforeRunId)
    .where('trigger', '!=', 'manual')
    .execute();
}

/** Running runs whose runner has not been heard from since `before`. */
export function stalledRuns(db: Db, before: Date): Promise<RunRow[]> {
  return db.selectFrom('runs').selectAll().where('status', '=', 'running').where('heartbeat_at', '<', before).execute();
}

/** Queued runs that were enqueued long ago but never claimed (a lost queue message). */
export function unclaimedRuns(db: Db, before: Date): Promise<RunRow[]> {
  return db.selectFrom('runs').selectAll().where('status', '=', 'queued').where('enqueued_at', '<', before).execute();
}

export async function setComparison(db: Db, id: number, comparison: unknown): Promise<void> {
  await db.updateTable('runs').set({ comparison: JSON.stringify(comparison) }).where('id', '=', id).execute();
}

export async function setMetricProblems(db: Db, id: number, problems: string[]): Promise<void> {
  await db.updateTable('runs').set({ metric_problems: JSON.stringify(problems) }).where('id', '=', id).execute();
}

/** Successful (or cached) runs of `job` on any of `commits`, newest run first. */
export function successfulRunsOfJobOn(db: Db, repoId: number, job: string, commits: string[]): Promise<RunRow[]> {
  if (commits.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('runs')
    .selectAll()
    .where('repo_id', '=', repoId)
    .where('job', '=', job)
    .where('status', 'in', ['success', 'cached'])
    .where('commit_sha', 'in', commits)
    .orderBy('id', 'desc')
    .execute();
}
