import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('users')
    // Embedded in login JWTs and bumped on password change, logout, suspension and deletion:
    // a JWT carrying an older number is dead, so sessions end without a token blacklist.
    .addColumn('credential_version', 'integer', (c) => c.notNull().defaultTo(0))
    // Set while an admin has suspended the account: every credential of the user is refused.
    .addColumn('suspended_at', 'timestamptz')
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('suspended_at').dropColumn('credential_version').execute();
}
