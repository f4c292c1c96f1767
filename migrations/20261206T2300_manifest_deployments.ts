import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // The `deployments:` entry of the default branch's mlproject.yaml that declares the deployment
  // (null: made through the API). The manifest owns such a row: pushes change and remove it, the
  // API refuses to.
  await db.schema.alterTable('deployments').addColumn('manifest_entry', 'text').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('deployments').dropColumn('manifest_entry').execute();
}
