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
