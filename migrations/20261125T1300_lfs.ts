import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // One row per verified object in the store (deduplicated across repos by oid).
  await db.schema
    .createTable('lfs_objects')
    .addColumn('oid', 'text', (c) => c.primaryKey().check(sql`oid ~ '^[0-9a-f]{64}$'`))
    .addColumn('size', 'bigint', (c) => c.notNull().check(sql`size >= 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // Which repo may serve which object: uploaded there, or inherited by a fork.
  await db.schema
    .createTable('lfs_repo_objects')
    .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
    .addColumn('oid', 'text', (c) => c.notNull().references('lfs_objects.oid'))
    .addColumn('uploader_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('lfs_repo_objects_pk', ['repo_id', 'oid'])
    .execute();
  await db.schema.createIndex('lfs_repo_objects_oid').on('lfs_repo_objects').column('oid').execute();

  await db.schema
    .createTable('lfs_locks')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('ref', 'text')
    .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('locked_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('lfs_locks_repo_path', ['repo_id', 'path'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['lfs_locks', 'lfs_repo_objects', 'lfs_objects']) await db.schema.dropTable(table).execute();
}
