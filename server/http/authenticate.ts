import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountService } from '../domain/accounts.ts';
import { DomainError, unauthenticated } from '../domain/errors.ts';
import type { Principal } from '../domain/model.ts';
import { looksLikeToken } from '../domain/secrets.ts';
import type { AuthFailureLimiter } from './auth-failures.ts';
import { JobTokens } from '../domain/runs/job-tokens.ts';

export type Authenticate = (request: FastifyRequest) => Promise<Principal | null>;

/**
 * Reads `Authorization: Basic user:token|password` (what git and git-lfs send) or
 * `Bearer <jwt|token>` (API clients). No header -> anonymous. Wrong credentials -> 401,
 * counted per client address; too many -> 429 before any check runs. Right credentials of a
 * suspended account -> 403 (the AccountService decides, and caches positive verdicts).
 */
export function makeAuthenticate(
  app: FastifyInstance,
  accounts: AccountService,
  limiter: AuthFailureLimiter,
  jobPrincipal: (token: string) => Promise<Principal | null>,
): Authenticate {
  const cache = new WeakMap<FastifyRequest, Promise<Principal | null>>();

  async function resolve(request: FastifyRequest): Promise<Principal | null> {
    const header = request.headers.authorization;
    if (!header) return null;
    // Only password guesses are limited (see AuthFailureLimiter): tokens, job tokens and JWTs
    // cannot be guessed, and runners and jobs share the server's own loopback address.
    const account = passwordAccount(header);
    if (account !== null) {
      const retryAfter = await limiter.retryAfter(account, request.ip);
      if (retryAfter > 0) throw new DomainError('rate_limited', 'too many failed sign-in attempts; try again later', retryAfter);
    }
    const principal = await check(header);
    if (!principal) {
      if (account !== null) await limiter.recordFailure(account, request.ip);
      request.log.info({ reason: 'bad_credentials' }, 'authentication failed');
      throw unauthenticated('invalid credentials');
    }
    return principal;
  }

  /** The user name of `Basic user:password` (not a token), or null for every other credential. */
  function passwordAccount(header: string): string | null {
    const [scheme = '', value = ''] = header.split(' ', 2);
    if (scheme.toLowerCase() !== 'basic') return null;
    const decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return null;
    const secret = withoutHubPrefix(decoded.slice(colon + 1));
    return looksLikeToken(secret) || JobTokens.looksLikeJobToken(secret) ? null : decoded.slice(0, colon);
  }

  async function check(header: string): Promise<Principal | null> {
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return null;
      const secret = withoutHubPrefix(decoded.slice(colon + 1));
      // Runners fetch with a job-scoped token (any user name, as git needs one).
      if (JobTokens.looksLikeJobToken(secret)) return jobPrincipal(secret);
      return accounts.authenticateBasic(decoded.slice(0, colon), secret);
    }
    if (scheme === 'bearer') {
      if (JobTokens.looksLikeJobToken(value)) return jobPrincipal(value);
      const byToken = await accounts.authenticateToken(withoutHubPrefix(value));
      if (byToken) return byToken;
      const login = verifyLoginJwt(value);
      return login && accounts.principalForLogin(login.userId, login.credentialVersion);
    }
    return null;
  }

  /** A login JWT names its user and the credential version it was issued under (older versions are logged out). */
  function verifyLoginJwt(token: string): { userId: number; credentialVersion: number } | null {
    let payload: { sub?: unknown; ver?: unknown };
    try {
      payload = app.jwt.verify<{ sub?: unknown; ver?: unknown }>(token);
    } catch {
      return null;
    }
    const userId = Number(payload.sub);
    if (!Number.isSafeInteger(userId) || typeof payload.ver !== 'number') return null;
    return { userId, credentialVersion: payload.ver };
  }

  return (request) => {
    let pending = cache.get(request);
    if (!pending) {
      pending = resolve(request);
      cache.set(request, pending);
    }
    return pending;
  };
}

/**
 * Hugging Face clients refuse any token that does not start with `hf_` before sending it
 * (@huggingface/hub checkAccessToken), so an mlgit token is also accepted as `hf_` + the token.
 */
export function withoutHubPrefix(secret: string): string {
  return secret.startsWith('hf_') && looksLikeToken(secret.slice(3)) ? secret.slice(3) : secret;
}

export async function requirePrincipal(authenticate: Authenticate, request: FastifyRequest): Promise<Principal> {
  const principal = await authenticate(request);
  if (!principal) throw unauthenticated();
  return principal;
}
