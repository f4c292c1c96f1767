import type { Db } from '../db/connect.ts';
import type { TokenRow, UserRow } from '../db/tables.ts';
import * as tokensDb from '../db/tokens.ts';
import * as usersDb from '../db/users.ts';
import { CredentialCache } from './credential-cache.ts';
import { conflict, DomainError, forbidden, invalid, notFound } from './errors.ts';
import { type Principal, type Scope, SCOPES, type User } from './model.ts';
import { assertUsername } from './names.ts';
import { isUniqueViolation } from './sql-errors.ts';
import { hashPassword, hashToken, looksLikeToken, newToken, randomSecret, verifyPassword } from './secrets.ts';

const ALL_SCOPES: ReadonlySet<Scope> = new Set(SCOPES);
const MIN_PASSWORD = 8;

// How long a verdict is trusted without asking again. Invalidation is immediate on this node;
// other API nodes see a change when their entry expires, so token and user-state TTLs are short.
const PASSWORD_VERDICT_TTL_MS = 5 * 60_000;
const TOKEN_VERDICT_TTL_MS = 60_000;
const USER_STATE_TTL_MS = 30_000;

/** What every request needs to know about its user: who, which login JWTs are current, and whether suspended. */
interface UserState {
  readonly user: User;
  readonly credentialVersion: number;
  readonly suspended: boolean;
}

interface TokenVerdict {
  readonly userId: number;
  readonly tokenId: number;
  readonly scopes: readonly Scope[];
}

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
    throw invalid('scopes must be a non-empty list of "read", "write", "admin", "tokens"');
  }
  const scopes = new Set(value as Scope[]);
  // A token that may write may also read; admin implies everything.
  if (scopes.has('admin')) scopes.add('write').add('tokens');
  if (scopes.has('write')) scopes.add('read');
  return SCOPES.filter((s) => scopes.has(s));
}

/**
 * Tokens and sessions are managed with a login (password or JWT), or with a token that was given
 * the `tokens` (or `admin`) scope: a read-only token in a CI log must not mint or revoke others.
 */
export function assertManagesCredentials(principal: Principal): void {
  if (principal.via === 'password' || principal.via === 'jwt') return;
  if (principal.via === 'token' && (principal.scopes.has('tokens') || principal.scopes.has('admin'))) return;
  throw forbidden('managing tokens and sessions needs a password, a login JWT, or a token with the "tokens" scope');
}

export class AccountService {
  private readonly passwords = new CredentialCache<number>(PASSWORD_VERDICT_TTL_MS);
  private readonly tokens = new CredentialCache<TokenVerdict>(TOKEN_VERDICT_TTL_MS);
  private readonly states = new CredentialCache<UserState>(USER_STATE_TTL_MS);

  constructor(private readonly db: Db) {}

  async createUser(input: { username: unknown; password: unknown; email?: unknown; isAdmin?: boolean }): Promise<User> {
    const username = assertUsername(input.username);
    assertPassword(input.password);
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

  /**
   * Basic credentials: `username:token` or `username:password`. Null when they do not match; a
   * suspended account is a 403. A password is verified (scrypt, ~50 ms) once per cache lifetime.
   */
  async authenticateBasic(username: string, secret: string): Promise<Principal | null> {
    if (looksLikeToken(secret)) {
      const principal = await this.authenticateToken(secret);
      return principal && principal.user.username.toLowerCase() === username.toLowerCase() ? principal : null;
    }
    const credential = [username.toLowerCase(), secret];
    let userId = this.passwords.get(credential);
    if (userId === undefined) {
      const user = await this.checkPassword(username, secret);
      if (!user) return null;
      userId = user.id;
      this.passwords.set(credential, userId);
    }
    const state = await this.activeState(userId);
    return state ? { user: state.user, scopes: ALL_SCOPES, via: 'password' } : null;
  }

  async authenticateToken(token: string): Promise<Principal | null> {
    if (!looksLikeToken(token)) return null;
    const hash = hashToken(token);
    let verdict = this.tokens.get([hash]);
    if (!verdict) {
      const row = await tokensDb.findTokenByHash(this.db, hash);
      if (!row) return null;
      // last_used_at is therefore accurate to the token cache's lifetime.
      await tokensDb.touchToken(this.db, row.id);
      verdict = { userId: row.user_id, tokenId: row.id, scopes: row.scopes as Scope[] };
      this.tokens.set([hash], verdict);
    }
    const state = await this.activeState(verdict.userId);
    return state ? { user: state.user, scopes: new Set(verdict.scopes), via: 'token', tokenId: verdict.tokenId } : null;
  }

  /** A login JWT is alive while the user's credential version is the one it was issued with. */
  async principalForLogin(userId: number, credentialVersion: number): Promise<Principal | null> {
    const state = await this.userState(userId);
    if (!state || state.suspended || state.credentialVersion !== credentialVersion) return null;
    return { user: state.user, scopes: ALL_SCOPES, via: 'jwt' };
  }

  /** The user's full authority, for work done on their behalf (a run resolving its dataset repos). */
  async principalForJwt(userId: number): Promise<Principal | null> {
    const state = await this.userState(userId);
    return state && !state.suspended ? { user: state.user, scopes: ALL_SCOPES, via: 'jwt' } : null;
  }

  /** `POST /auth/login`: the user and the credential version to embed in the JWT; a suspended account is a 403. */
  async login(username: string, password: string): Promise<{ user: User; credentialVersion: number } | null> {
    const user = await this.checkPassword(username, password);
    if (!user) return null;
    const state = await this.activeState(user.id);
    return state && { user: state.user, credentialVersion: state.credentialVersion };
  }

  /** Needs the current password even from a signed-in caller: a stolen session must not lock the owner out. */
  async changePassword(principal: Principal, currentPassword: unknown, newPassword: unknown): Promise<void> {
    assertManagesCredentials(principal);
    if (typeof currentPassword !== 'string' || !(await this.checkPassword(principal.user.username, currentPassword))) {
      throw forbidden('current_password is not right');
    }
    assertPassword(newPassword);
    await usersDb.setPassword(this.db, principal.user.id, await hashPassword(newPassword));
    this.forgetUser(principal.user.id);
  }

  /** Ends every login JWT of the user (tokens are revoked one by one). */
  async logout(principal: Principal): Promise<void> {
    assertManagesCredentials(principal);
    await usersDb.bumpCredentialVersion(this.db, principal.user.id);
    this.forgetUser(principal.user.id);
  }

  /** After any change to a user's credentials or standing: nothing cached about them is trusted any more. */
  forgetUser(userId: number): void {
    this.passwords.forget((id) => id === userId);
    this.tokens.forget((verdict) => verdict.userId === userId);
    this.states.forget((state) => state.user.id === userId);
  }

  private async userState(userId: number): Promise<UserState | null> {
    const key = [String(userId)];
    const cached = this.states.get(key);
    if (cached) return cached;
    const row = await usersDb.findUserById(this.db, userId);
    if (!row) return null;
    const state = { user: toUser(row), credentialVersion: row.credential_version, suspended: row.suspended_at !== null };
    this.states.set(key, state);
    return state;
  }

  /** The state of a user whose credential checked out: null once deleted, 403 while suspended. */
  private async activeState(userId: number): Promise<UserState | null> {
    const state = await this.userState(userId);
    if (state?.suspended) throw forbidden(`the account "${state.user.username}" is suspended`);
    return state;
  }

  /** The scrypt check itself, uncached. */
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
    assertManagesCredentials(principal);
    if (typeof name !== 'string' || name.trim().length === 0 || name.length > 100 || hasControl(name)) throw invalid('name must be 1-100 printable characters');
    const wanted = parseScopes(scopes);
    // A token can never carry more than the credential that created it.
    for (const scope of wanted) if (!principal.scopes.has(scope)) throw forbidden(`your credential lacks the "${scope}" scope`);
    const { token, hash } = newToken();
    const row = await tokensDb.insertToken(this.db, { userId: principal.user.id, name: name.trim(), hash, scopes: wanted });
    return { ...toTokenInfo(row), token };
  }

  async listTokens(principal: Principal): Promise<TokenInfo[]> {
    assertManagesCredentials(principal);
    return (await tokensDb.listTokens(this.db, principal.user.id)).map(toTokenInfo);
  }

  /** Any token may revoke itself (a leaked token can be killed with nothing else at hand); others need credential management. */
  async revokeToken(principal: Principal, tokenId: number): Promise<void> {
    if (principal.tokenId !== tokenId) assertManagesCredentials(principal);
    if (!(await tokensDb.deleteToken(this.db, principal.user.id, tokenId))) throw notFound('token');
    this.tokens.forget((verdict) => verdict.tokenId === tokenId);
  }
}

function assertPassword(password: unknown): asserts password is string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD || password.length > 1024) {
    throw invalid(`password must be ${MIN_PASSWORD}-1024 characters`);
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

