import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // What registration found in the file (safetensors header, pickle imports), kept with the
  // version: the file never changes, so neither does this.
  await db.schema.alterTable('model_versions').addColumn('inspection', 'jsonb').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('model_versions').dropColumn('inspection').execute();
}
