import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // Run logs on Postgres (server/adapters/logs/postgres-log-store.ts): every server node appends
  // to and follows the same log, whichever node the runner and the reader talk to.
  await db.schema
    .createTable('run_log_chunks')
    .addColumn('run_id', 'integer', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    // Byte offset of the chunk's first byte in the run's log.
    .addColumn('start', 'bigint', (c) => c.notNull())
    .addColumn('length', 'integer', (c) => c.notNull().check(sql`length > 0`))
    .addColumn('data', 'bytea', (c) => c.notNull())
    // The runner's batch ("attempt:seq") on the append's first chunk: a batch retried against another node lands once.
    .addColumn('batch', 'text')
    .addPrimaryKeyConstraint('run_log_chunks_pkey', ['run_id', 'start'])
    .execute();
  await db.schema.createIndex('run_log_chunks_batch').on('run_log_chunks').columns(['run_id', 'batch']).unique().where(sql.ref('batch'), 'is not', null).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('run_log_chunks').execute();
}
