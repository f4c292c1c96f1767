/**
 * Counts failed logins per client address in a sliding window; past the limit the address is
 * refused (429) until the window has moved on. Memory is bounded by pruning old entries.
 */
export class AuthFailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Seconds until the address may try again, or 0 when it may try now. */
  retryAfter(address: string, now = Date.now()): number {
    const recent = this.recent(address, now);
    if (recent.length < this.max) return 0;
    return Math.max(1, Math.ceil((recent[0]! + this.windowMs - now) / 1000));
  }

  recordFailure(address: string, now = Date.now()): void {
    const recent = this.recent(address, now);
    recent.push(now);
    this.failures.set(address, recent);
    if (this.failures.size > 10_000) this.prune(now);
  }

  private recent(address: string, now: number): number[] {
    return (this.failures.get(address) ?? []).filter((t) => now - t < this.windowMs);
  }

  private prune(now: number): void {
    for (const [address, times] of this.failures) {
      if (times.every((t) => now - t >= this.windowMs)) this.failures.delete(address);
    }
  }
}
