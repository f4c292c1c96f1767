import type { Db } from './connect.ts';
import type { TokenRow } from './tables.ts';

export function insertToken(db: Db, token: { userId: number; name: string; hash: string; scopes: string[] }): Promise<TokenRow> {
  return db
    .insertInto('tokens')
    .values({ user_id: token.userId, name: token.name, token_hash: token.hash, scopes: token.scopes })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findTokenByHash(db: Db, hash: string): Promise<TokenRow | undefined> {
  return db.selectFrom('tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
}

export function listTokens(db: Db, userId: number): Promise<TokenRow[]> {
  return db.selectFrom('tokens').selectAll().where('user_id', '=', userId).orderBy('id').execute();
}

export async function deleteToken(db: Db, userId: number, tokenId: number): Promise<boolean> {
  const result = await db.deleteFrom('tokens').where('id', '=', tokenId).where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function touchToken(db: Db, tokenId: number): Promise<void> {
  await db.updateTable('tokens').set({ last_used_at: new Date() }).where('id', '=', tokenId).execute();
}
