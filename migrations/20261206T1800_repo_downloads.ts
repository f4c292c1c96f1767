import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // The Hugging Face API's `downloads`: files fetched through `resolve`, added in batches.
  await db.schema.alterTable('repos').addColumn('downloads', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('repos').dropColumn('downloads').execute();
}
