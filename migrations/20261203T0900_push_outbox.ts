import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // One row per ref update that pre-receive accepted, written before git moves the ref: the push
  // and the runs it owes are recorded together, so a crash or an outage between the ref update
  // and post-receive leaves a row that the reconciler finishes (or drops when the ref never moved).
  await db.schema
    .createTable('push_outbox')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    // sha256 of the push's one-time hook secret: post-receive finds its own rows by it.
    .addColumn('session', 'text', (c) => c.notNull())
    .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
    .addColumn('pusher_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('ref', 'text', (c) => c.notNull())
    .addColumn('old_sha', 'text', (c) => c.notNull())
    .addColumn('new_sha', 'text', (c) => c.notNull())
    .addColumn('push_options', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    // pending: nothing done yet; recorded: the push row exists, runs may not. Done rows are deleted.
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('pending').check(sql`state in ('pending','recorded')`))
    // Whoever works on a row holds it until then; a holder that died lets it go by expiry.
    .addColumn('claimed_until', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('push_outbox_session').on('push_outbox').column('session').execute();
  await db.schema.createIndex('push_outbox_created').on('push_outbox').column('created_at').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('push_outbox').execute();
}
