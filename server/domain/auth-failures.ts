/**
 * Failed password sign-ins in a sliding window, counted per (account, address) and per account.
 *
 * Not per address alone: behind a reverse proxy, or beside the embedded runner's loopback git
 * fetch, one address is everybody, and twenty wrong passwords would lock them all out. Only
 * password guesses are counted and refused: tokens (256 random bits) cannot be guessed, so a
 * valid token is never refused, and neither is a password of another account.
 *
 * Refused: an (account, address) past `max` (one source guessing), and an account past
 * `max * ACCOUNT_FACTOR` from every address together (a distributed guess), but then only from
 * addresses that have themselves failed for it: the owner signing in from a clean address is let
 * through. Kept in this process (server/http/auth-failures.ts) or, when several server nodes share
 * a Redis, there (server/adapters/redis/redis-auth-failures.ts), so a guesser gains nothing by
 * spreading guesses over the nodes.
 */
export interface AuthFailureLimiter {
  /** Seconds until this address may try this account's password again, or 0 when it may try now. */
  retryAfter(account: string, address: string, now?: number): Promise<number>;
  recordFailure(account: string, address: string, now?: number): Promise<void>;
}

const ACCOUNT_FACTOR = 5;

/** The failures of one key inside the window: how many, and when the oldest was. */
export interface WindowCount {
  readonly count: number;
  readonly oldest: number;
}

export interface FailureRule {
  readonly max: number;
  readonly windowMs: number;
}

/** The verdict both stores give from the pair's and the account's counts (see AuthFailureLimiter). */
export function retryAfterSeconds(rule: FailureRule, own: WindowCount, all: WindowCount, now: number): number {
  if (own.count >= rule.max) return wait(rule, own, now);
  if (own.count > 0 && all.count >= rule.max * ACCOUNT_FACTOR) return wait(rule, all, now);
  return 0;
}

function wait(rule: FailureRule, counted: WindowCount, now: number): number {
  return Math.max(1, Math.ceil((counted.oldest + rule.windowMs - now) / 1000));
}

/** The two keys one failure counts under. User names are case-insensitive; the separator cannot occur in one. */
export function failureKeys(account: string, address: string): { pair: string; account: string } {
  return { pair: `p\0${account.toLowerCase()}\0${address}`, account: `a\0${account.toLowerCase()}` };
}
