import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // One row per registered model version, numbered 1, 2, 3 per (repo, model) and never changed:
  // everything a version was made from is copied here, so it stays readable if its run goes.
  await db.schema
    .createTable('model_versions')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version > 0`))
    .addColumn('run_id', 'integer', (c) => c.references('runs.id').onDelete('set null'))
    .addColumn('job', 'text', (c) => c.notNull())
    .addColumn('commit_sha', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('oid', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('params', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('metrics', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('goals', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('datasets', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('created_by', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('model_versions_number', ['repo_id', 'model', 'version'])
    .execute();
  // A run registers a model at most once: a second registration finds the first.
  await db.schema.createIndex('model_versions_run').unique().on('model_versions').columns(['repo_id', 'model', 'run_id']).execute();
  await db.schema.createIndex('model_versions_commit').on('model_versions').columns(['repo_id', 'commit_sha']).execute();

  // Where each alias points now; moved by compare-and-set on `version`.
  await db.schema
    .createTable('model_aliases')
    .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('alias', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('updated_by', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('model_aliases_pk', ['repo_id', 'model', 'alias'])
    .execute();

  // Every move, written in the same transaction as the move itself.
  await db.schema
    .createTable('model_alias_history')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('alias', 'text', (c) => c.notNull())
    .addColumn('from_version', 'integer')
    .addColumn('to_version', 'integer', (c) => c.notNull())
    .addColumn('actor_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('actor_name', 'text')
    .addColumn('reason', 'text')
    // Gates an admin overrode with this move (empty when every gate was met).
    .addColumn('overridden', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('model_alias_history_alias').on('model_alias_history').columns(['repo_id', 'model', 'alias', 'id']).execute();

  // Approvals a promotion gate may require (`approvers: n`): one per user, version and alias.
  await db.schema
    .createTable('model_approvals')
    .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('alias', 'text', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('model_approvals_pk', ['repo_id', 'model', 'version', 'alias', 'user_id'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('model_approvals').execute();
  await db.schema.dropTable('model_alias_history').execute();
  await db.schema.dropTable('model_aliases').execute();
  await db.schema.dropTable('model_versions').execute();
}
