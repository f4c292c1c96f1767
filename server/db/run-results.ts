import type { Db } from './connect.ts';

const INSERT_BATCH = 1000;

export async function insertMetrics(
  db: Db,
  runId: number,
  summary: Record<string, number>,
  points: readonly { key: string; step: number; value: number }[],
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('run_metrics').where('run_id', '=', runId).execute();
    await tx.deleteFrom('run_metric_points').where('run_id', '=', runId).execute();
    const rows = Object.entries(summary).map(([key, value]) => ({ run_id: runId, key, value }));
    for (let i = 0; i < rows.length; i += INSERT_BATCH) await tx.insertInto('run_metrics').values(rows.slice(i, i + INSERT_BATCH)).execute();
    for (let i = 0; i < points.length; i += INSERT_BATCH) {
      const batch = points.slice(i, i + INSERT_BATCH).map((p) => ({ run_id: runId, key: p.key, step: p.step, value: p.value }));
      await tx
        .insertInto('run_metric_points')
        .values(batch)
        .onConflict((oc) => oc.columns(['run_id', 'key', 'step']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })))
        .execute();
    }
  });
}

/** Summary metrics of several runs at once: runId -> {key: value}. */
export async function metricsOfRuns(db: Db, runIds: readonly number[]): Promise<Map<number, Record<string, number>>> {
  const byRun = new Map<number, Record<string, number>>();
  if (runIds.length === 0) return byRun;
  const rows = await db.selectFrom('run_metrics').selectAll().where('run_id', 'in', runIds).orderBy('key').execute();
  for (const row of rows) {
    const metrics = byRun.get(row.run_id) ?? {};
    metrics[row.key] = row.value;
    byRun.set(row.run_id, metrics);
  }
  return byRun;
}

export function pointsOfRun(db: Db, runId: number, key: string) {
  return db.selectFrom('run_metric_points').select(['step', 'value']).where('run_id', '=', runId).where('key', '=', key).orderBy('step').execute();
}

export async function insertOutput(db: Db, runId: number, output: { name: string; type: string; oid: string; size: number }): Promise<void> {
  await db
    .insertInto('run_outputs')
    .values({ run_id: runId, ...output })
    .onConflict((oc) => oc.columns(['run_id', 'name']).doUpdateSet({ type: output.type, oid: output.oid }))
    .execute();
}

export function outputsOfRun(db: Db, runId: number) {
  return db.selectFrom('run_outputs').selectAll().where('run_id', '=', runId).orderBy('name').execute();
}

/** A cache hit reuses the metrics and outputs of the run it points at. */
export async function copyResults(db: Db, fromRunId: number, toRunId: number): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('run_metrics')
      .columns(['run_id', 'key', 'value'])
      .expression((eb) => eb.selectFrom('run_metrics').select((e) => [e.val(toRunId).as('run_id'), 'key', 'value']).where('run_id', '=', fromRunId))
      .execute();
    await tx
      .insertInto('run_outputs')
      .columns(['run_id', 'name', 'type', 'oid', 'size'])
      .expression((eb) =>
        eb.selectFrom('run_outputs').select((e) => [e.val(toRunId).as('run_id'), 'name', 'type', 'oid', 'size']).where('run_id', '=', fromRunId),
      )
      .execute();
  });
}

/** Values of one metric for the runs of a job on the given commits (history plots). */
export function metricOnCommits(db: Db, repoId: number, key: string, commits: readonly string[], job: string | null) {
  let q = db
    .selectFrom('runs')
    .innerJoin('run_metrics', 'run_metrics.run_id', 'runs.id')
    .select(['runs.id as run_id', 'runs.commit_sha', 'runs.job', 'run_metrics.value'])
    .where('runs.repo_id', '=', repoId)
    .where('run_metrics.key', '=', key)
    .where('runs.status', 'in', ['success', 'cached'])
    .where('runs.commit_sha', 'in', commits.length ? [...commits] : ['-']);
  if (job) q = q.where('runs.job', '=', job);
  return q.orderBy('runs.id', 'desc').execute();
}
