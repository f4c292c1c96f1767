import type { Db } from '../db/connect.ts';
import type { TokenRow, UserRow } from '../db/tables.ts';
import * as tokensDb from '../db/tokens.ts';
import * as usersDb from '../db/users.ts';
import { conflict, DomainError, forbidden, invalid, notFound } from './errors.ts';
import { type Principal, type Scope, SCOPES, type User } from './model.ts';
import { assertUsername } from './names.ts';
import { hashPassword, hashToken, looksLikeToken, newToken, randomSecret, verifyPassword } from './secrets.ts';

const ALL_SCOPES: ReadonlySet<Scope> = new Set(SCOPES);
const MIN_PASSWORD = 8;

export function toUser(row: UserRow): User {
  return { id: row.id, username: row.username, email: row.email, isAdmin: row.is_admin, createdAt: row.created_at };
}

export interface TokenInfo {
  id: number;
  name: string;
  scopes: Scope[];
  createdAt: Date;
  lastUsedAt: Date | null;
}

export function parseScopes(value: unknown): Scope[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((s) => typeof s === 'string' && (SCOPES as string[]).includes(s))) {
    throw invalid('scopes must be a non-empty list of "read", "write", "admin"');
  }
  const scopes = new Set(value as Scope[]);
  // A token that may write may also read; admin implies both.
  if (scopes.has('admin')) scopes.add('write');
  if (scopes.has('write')) scopes.add('read');
  return SCOPES.filter((s) => scopes.has(s));
}

export class AccountService {
  constructor(private readonly db: Db) {}

  async createUser(input: { username: unknown; password: unknown; email?: unknown; isAdmin?: boolean }): Promise<User> {
    const username = assertUsername(input.username);
    if (typeof input.password !== 'string' || input.password.length < MIN_PASSWORD || input.password.length > 1024) {
      throw invalid(`password must be ${MIN_PASSWORD}-1024 characters`);
    }
    let email: string | null = null;
    if (input.email !== undefined && input.email !== null) {
      if (typeof input.email !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(input.email) || input.email.length > 254 || hasControl(input.email)) {
        throw invalid('email is not valid');
      }
      email = input.email;
    }
    if (await usersDb.findUserByName(this.db, username)) throw conflict(`user "${username}" already exists`);
    const passwordHash = await hashPassword(input.password);
    try {
      return toUser(await usersDb.insertUser(this.db, { username, email, passwordHash, isAdmin: input.isAdmin ?? false }));
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`user "${username}" already exists`);
      throw err;
    }
  }

  /** First start: with no users, create `admin` with the configured password or a generated one. */
  async ensureAdmin(configuredPassword: string | null): Promise<{ username: string; generatedPassword: string | null } | null> {
    if ((await usersDb.countUsers(this.db)) > 0) return null;
    const password = configuredPassword ?? randomSecret(18);
    try {
      await this.createUser({ username: 'admin', password, isAdmin: true });
    } catch (err) {
      // Another process (a second replica, a CLI command) started at the same moment and won.
      if (err instanceof DomainError && err.code === 'conflict') return null;
      throw err;
    }
    return { username: 'admin', generatedPassword: configuredPassword ? null : password };
  }

  async findUser(username: string): Promise<User> {
    const row = await usersDb.findUserByName(this.db, username);
    if (!row) throw notFound(`user "${username}"`);
    return toUser(row);
  }

  async userById(id: number): Promise<User | null> {
    const row = await usersDb.findUserById(this.db, id);
    return row ? toUser(row) : null;
  }

  /** Basic credentials: `username:token` or `username:password`. Null when they do not match. */
  async authenticateBasic(username: string, secret: string): Promise<Principal | null> {
    if (looksLikeToken(secret)) {
      const principal = await this.authenticateToken(secret);
      return principal && principal.user.username.toLowerCase() === username.toLowerCase() ? principal : null;
    }
    const user = await this.checkPassword(username, secret);
    return user ? { user, scopes: ALL_SCOPES, via: 'password' } : null;
  }

  async authenticateToken(token: string): Promise<Principal | null> {
    if (!looksLikeToken(token)) return null;
    const row = await tokensDb.findTokenByHash(this.db, hashToken(token));
    if (!row) return null;
    const user = await usersDb.findUserById(this.db, row.user_id);
    if (!user) return null;
    await tokensDb.touchToken(this.db, row.id);
    return { user: toUser(user), scopes: new Set(row.scopes as Scope[]), via: 'token' };
  }

  async principalForJwt(userId: number): Promise<Principal | null> {
    const user = await this.userById(userId);
    return user ? { user, scopes: ALL_SCOPES, via: 'jwt' } : null;
  }

  async checkPassword(username: string, password: string): Promise<User | null> {
    const row = await usersDb.findUserByName(this.db, username);
    if (!row) {
      // Same cost as a real check, so response time does not reveal which usernames exist.
      await verifyPassword(password, DUMMY_HASH);
      return null;
    }
    return (await verifyPassword(password, row.password_hash)) ? toUser(row) : null;
  }

  async createToken(principal: Principal, name: unknown, scopes: unknown): Promise<TokenInfo & { token: string }> {
    if (typeof name !== 'string' || name.trim().length === 0 || name.length > 100 || hasControl(name)) throw invalid('name must be 1-100 printable characters');
    const wanted = parseScopes(scopes);
    // A token can never carry more than the credential that created it.
    for (const scope of wanted) if (!principal.scopes.has(scope)) throw forbidden(`your credential lacks the "${scope}" scope`);
    const { token, hash } = newToken();
    const row = await tokensDb.insertToken(this.db, { userId: principal.user.id, name: name.trim(), hash, scopes: wanted });
    return { ...toTokenInfo(row), token };
  }

  async listTokens(userId: number): Promise<TokenInfo[]> {
    return (await tokensDb.listTokens(this.db, userId)).map(toTokenInfo);
  }

  async revokeToken(userId: number, tokenId: number): Promise<void> {
    if (!(await tokensDb.deleteToken(this.db, userId, tokenId))) throw notFound('token');
  }
}

function toTokenInfo(row: TokenRow): TokenInfo {
  return { id: row.id, name: row.name, scopes: row.scopes as Scope[], createdAt: row.created_at, lastUsedAt: row.last_used_at };
}

/** Control characters (NUL cannot even be stored in Postgres text). */
function hasControl(value: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return /[\x00-\x1f\x7f]/.test(value);
}

// A valid hash of a random password, checked against when the user does not exist.
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === '23505';
}
