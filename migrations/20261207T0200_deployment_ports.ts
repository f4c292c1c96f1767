import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // A model server may listen on a TCP port in its own network namespace (relayed to mlgit's
  // socket), and then need no command: the image's own entrypoint runs.
  await db.schema.alterTable('deployments').addColumn('port', 'integer').execute();
  await db.schema.alterTable('deployments').alterColumn('command', (c) => c.dropNotNull()).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('deployments').where('command', 'is', null).execute();
  await db.schema.alterTable('deployments').alterColumn('command', (c) => c.setNotNull()).execute();
  await db.schema.alterTable('deployments').dropColumn('port').execute();
}
