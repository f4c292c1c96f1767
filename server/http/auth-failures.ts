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
 * through. Memory is bounded by pruning old entries.
 */
const ACCOUNT_FACTOR = 5;
const PRUNE_ABOVE = 10_000;

export class AuthFailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Seconds until this address may try this account's password again, or 0 when it may try now. */
  retryAfter(account: string, address: string, now = Date.now()): number {
    const own = this.recent(pairKey(account, address), now);
    if (own.length >= this.max) return this.wait(own, now);
    const all = this.recent(accountKey(account), now);
    if (own.length > 0 && all.length >= this.max * ACCOUNT_FACTOR) return this.wait(all, now);
    return 0;
  }

  recordFailure(account: string, address: string, now = Date.now()): void {
    for (const key of [pairKey(account, address), accountKey(account)]) {
      const recent = this.recent(key, now);
      recent.push(now);
      this.failures.set(key, recent);
    }
    if (this.failures.size > PRUNE_ABOVE) this.prune(now);
  }

  private wait(times: number[], now: number): number {
    return Math.max(1, Math.ceil((times[0]! + this.windowMs - now) / 1000));
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
  }

  private prune(now: number): void {
    for (const [key, times] of this.failures) {
      if (times.every((t) => now - t >= this.windowMs)) this.failures.delete(key);
    }
  }
}

// User names are case-insensitive; the separator cannot occur in one.
const accountKey = (account: string) => `a\0${account.toLowerCase()}`;
const pairKey = (account: string, address: string) => `p\0${account.toLowerCase()}\0${address}`;
