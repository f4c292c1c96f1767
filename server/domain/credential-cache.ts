import { createHmac, randomBytes } from 'node:crypto';

/**
 * Positive authentication verdicts kept in memory for a short while, so git's several requests
 * per push cost one scrypt (or one token lookup) instead of one each. Keys are HMACs under a key
 * that lives only in this process: a heap dump holds no password or token, nor anything that
 * could be checked against a guess offline. Failures are never cached (a wrong password costs the
 * full check every time, and the failure limiter sees it). Each API node caches on its own, so a
 * change made on another node is seen here once the entry expires: the TTLs bound that window.
 */
export class CredentialCache<V> {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, { value: V; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** A credential is several parts (user name and password); each is length-prefixed so ("ab", "c") and ("a", "bc") differ. */
  private keyOf(parts: readonly string[]): string {
    const mac = createHmac('sha256', this.key);
    for (const part of parts) mac.update(`${part.length}:${part}`);
    return mac.digest('base64url');
  }

  get(parts: readonly string[]): V | undefined {
    const key = this.keyOf(parts);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(parts: readonly string[], value: V): void {
    const key = this.keyOf(parts);
    // Map iteration is insertion order: dropping the first entry drops the oldest.
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expires: this.now() + this.ttlMs });
  }

  /** Invalidation: drops every entry whose value matches (a user's passwords, a revoked token). */
  forget(matches: (value: V) => boolean): void {
    for (const [key, entry] of this.entries) if (matches(entry.value)) this.entries.delete(key);
  }
}
