import { sql } from 'kysely';
import type { Db } from './connect.ts';
import type { UserRow } from './tables.ts';

export async function findUserByName(db: Db, username: string): Promise<UserRow | undefined> {
  // Postgres text cannot hold NUL (the query would fail); no stored name can match one.
  if (username.includes('\0')) return undefined;
  return db.selectFrom('users').selectAll().where(sql<string>`lower(username)`, '=', username.toLowerCase()).executeTakeFirst();
}

export function findUserById(db: Db, id: number): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function countUsers(db: Db): Promise<number> {
  const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

export function insertUser(db: Db, user: { username: string; email: string | null; passwordHash: string; isAdmin: boolean }): Promise<UserRow> {
  return db
    .insertInto('users')
    .values({ username: user.username, email: user.email, password_hash: user.passwordHash, is_admin: user.isAdmin })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Password change: the new hash and a new credential version (old login JWTs die) in one statement. */
export async function setPassword(db: Db, id: number, passwordHash: string): Promise<void> {
  await db.updateTable('users').set((eb) => ({ password_hash: passwordHash, credential_version: eb('credential_version', '+', 1) })).where('id', '=', id).execute();
}

/** Ends every login JWT of the user (logout, suspension, deletion). */
export async function bumpCredentialVersion(db: Db, id: number): Promise<void> {
  await db.updateTable('users').set((eb) => ({ credential_version: eb('credential_version', '+', 1) })).where('id', '=', id).execute();
}

/** Suspending also bumps the credential version, so login JWTs end with it. */
export async function setSuspended(db: Db, id: number, suspended: boolean): Promise<void> {
  await db
    .updateTable('users')
    .set((eb) => (suspended ? { suspended_at: new Date(), credential_version: eb('credential_version', '+', 1) } : { suspended_at: null }))
    .where('id', '=', id)
    .execute();
}

/**
 * Tokens, collaborator rows and LFS locks go with the user (cascade); pushes, runs and audit rows keep
 * a null. Repo rows would cascade too, but not their directories: callers deal with repos first.
 */
export async function deleteUser(db: Db, id: number): Promise<void> {
  await db.deleteFrom('users').where('id', '=', id).execute();
}
