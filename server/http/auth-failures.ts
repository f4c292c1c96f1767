import { failureKeys, retryAfterSeconds, type AuthFailureLimiter, type FailureRule, type WindowCount } from '../domain/auth-failures.ts';

// The callers' name for either store.
export type { AuthFailureLimiter } from '../domain/auth-failures.ts';

const PRUNE_ABOVE = 10_000;

/** Failed sign-ins counted in this process (one server node); memory is bounded by pruning old entries. */
export class MemoryAuthFailures implements AuthFailureLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly rule: FailureRule;

  constructor(max: number, windowMs: number) {
    this.rule = { max, windowMs };
  }

  retryAfter(account: string, address: string, now = Date.now()): Promise<number> {
    const keys = failureKeys(account, address);
    return Promise.resolve(retryAfterSeconds(this.rule, this.count(keys.pair, now), this.count(keys.account, now), now));
  }

  recordFailure(account: string, address: string, now = Date.now()): Promise<void> {
    const keys = failureKeys(account, address);
    for (const key of [keys.pair, keys.account]) {
      const recent = this.recent(key, now);
      recent.push(now);
      this.failures.set(key, recent);
    }
    if (this.failures.size > PRUNE_ABOVE) this.prune(now);
    return Promise.resolve();
  }

  private count(key: string, now: number): WindowCount {
    const recent = this.recent(key, now);
    return { count: recent.length, oldest: recent[0] ?? now };
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => now - t < this.rule.windowMs);
  }

  private prune(now: number): void {
    for (const [key, times] of this.failures) {
      if (times.every((t) => now - t >= this.rule.windowMs)) this.failures.delete(key);
    }
  }
}
