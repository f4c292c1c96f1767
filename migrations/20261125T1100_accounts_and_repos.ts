import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('email', 'text')
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('is_admin', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Names are unique regardless of case, so "Alice" cannot shadow "alice" in URLs.
  await sql`create unique index users_username_lower on users (lower(username))`.execute(db);

  await db.schema
    .createTable('tokens')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('scopes', sql`text[]`, (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('tokens_user').on('tokens').column('user_id').execute();

  await db.schema
    .createTable('repos')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('private', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('model'))
    .addColumn('default_branch', 'text', (c) => c.notNull().defaultTo('main'))
    .addColumn('protected_branches', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('fork_parent_id', 'integer', (c) => c.references('repos.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('pushed_at', 'timestamptz')
    .addColumn('search', sql`tsvector`, (c) =>
      c.generatedAlwaysAs(sql`to_tsvector('simple', replace(replace(name, '-', ' '), '_', ' ') || ' ' || name || ' ' || description)`).stored(),
    )
    .execute();
  await sql`create unique index repos_owner_name_lower on repos (owner_id, lower(name))`.execute(db);
  await sql`create index repos_search on repos using gin (search)`.execute(db);

  await db.schema
    .createTable('collaborators')
    .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('read', 'write', 'admin')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('collaborators_pk', ['repo_id', 'user_id'])
    .execute();
  await db.schema.createIndex('collaborators_user').on('collaborators').column('user_id').execute();

  await db.schema
    .createTable('pushes')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('repo_id', 'integer', (c) => c.notNull().references('repos.id').onDelete('cascade'))
    .addColumn('pusher_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('ref', 'text', (c) => c.notNull())
    .addColumn('old_sha', 'text', (c) => c.notNull())
    .addColumn('new_sha', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('pushes_repo_created').on('pushes').columns(['repo_id', 'created_at']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['pushes', 'collaborators', 'repos', 'tokens', 'users']) {
    await db.schema.dropTable(table).execute();
  }
}
