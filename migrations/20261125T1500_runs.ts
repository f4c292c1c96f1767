import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // One row per job run (a matrix expansion is its own run). Retries reuse the row with attempt + 1,
  // so a run id stays the one users saw in the note, the API and webhooks.
  await db.schema
    .createTable('runs')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
    .addColumn('commit_sha', 'text', (c) => c.notNull().check(sql`commit_sha ~ '^[0-9a-f]{40}$'`))
    .addColumn('ref', 'text')
    // Groups the runs one push or one manual request created (dependencies resolve inside it).
    .addColumn('dispatch_id', 'text', (c) => c.notNull())
    .addColumn('project', 'text', (c) => c.notNull())
    .addColumn('job_id', 'text', (c) => c.notNull())
    // job_id plus the matrix values: train[lr=0.1,depth=3].
    .addColumn('job', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('queued','running','success','failed','cancelled','timed_out','cached','error')`),
    )
    .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(1))
    // What the runner executes: image, commands, env, limits, timeout, outputs, metrics file.
    .addColumn('spec', 'jsonb', (c) => c.notNull())
    .addColumn('depends_on', sql`integer[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('cache_key', 'text')
    .addColumn('cached_from', 'integer', (c) => c.references('runs.id').onDelete('set null'))
    .addColumn('created_by', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('runner', 'text')
    .addColumn('exit_code', 'integer')
    // Why it ended the way it did ("out of memory", "dependency train failed", ...).
    .addColumn('message', 'text')
    .addColumn('metric_problems', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    // Baseline comparison computed at completion (shown in the note and the API).
    .addColumn('comparison', 'jsonb')
    .addColumn('cancel_requested', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('enqueued_at', 'timestamptz')
    .addColumn('started_at', 'timestamptz')
    .addColumn('heartbeat_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('runs_repo_id').on('runs').columns(['repo_id', 'id']).execute();
  await db.schema.createIndex('runs_repo_commit').on('runs').columns(['repo_id', 'commit_sha']).execute();
  await db.schema.createIndex('runs_dispatch').on('runs').column('dispatch_id').execute();
  await db.schema.createIndex('runs_cache_key').on('runs').columns(['repo_id', 'cache_key']).where(sql.ref('status'), '=', 'success').execute();
  await db.schema.createIndex('runs_running').on('runs').column('heartbeat_at').where(sql.ref('status'), '=', 'running').execute();

  // Summary value per (run, metric): the last value of a series, or the value of a flat file.
  await db.schema
    .createTable('run_metrics')
    .addColumn('run_id', 'integer', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'double precision', (c) => c.notNull())
    .addPrimaryKeyConstraint('run_metrics_pk', ['run_id', 'key'])
    .execute();

  await db.schema
    .createTable('run_metric_points')
    .addColumn('run_id', 'integer', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('step', 'bigint', (c) => c.notNull())
    .addColumn('value', 'double precision', (c) => c.notNull())
    .addPrimaryKeyConstraint('run_metric_points_pk', ['run_id', 'key', 'step'])
    .execute();

  // Outputs live in the object store (content-addressed, shared with LFS); rows say which run made which.
  await db.schema
    .createTable('run_outputs')
    .addColumn('run_id', 'integer', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('oid', 'text', (c) => c.notNull().check(sql`oid ~ '^[0-9a-f]{64}$'`))
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('run_outputs_pk', ['run_id', 'name'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['run_outputs', 'run_metric_points', 'run_metrics', 'runs']) await db.schema.dropTable(table).execute();
}
