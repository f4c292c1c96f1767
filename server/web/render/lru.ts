/**
 * A least-recently-used cache bounded by the total size of its keys and values (string length), so
 * a few huge rendered files cannot hold the memory that thousands of small ones would share, and
 * many requests for things that do not exist (small values, long keys) cannot grow it either.
 */
export class LruCache {
  private readonly entries = new Map<string, string>();
  private size = 0;

  constructor(private readonly maxChars: number) {}

  get(key: string): string | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      // Map keeps insertion order: re-inserting moves the entry to the most recent end.
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: string): void {
    if (key.length + value.length > this.maxChars) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.size -= key.length + old.length;
    }
    this.entries.set(key, value);
    this.size += key.length + value.length;
    for (const [oldest, dropped] of this.entries) {
      if (this.size <= this.maxChars) break;
      this.entries.delete(oldest);
      this.size -= oldest.length + dropped.length;
    }
  }

  /** The cached value (stored as JSON: callers get a copy of their own), or computes, stores and returns it. */
  async rememberJson<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const hit = this.get(key);
    if (hit !== undefined) return JSON.parse(hit) as T;
    const value = await compute();
    this.set(key, JSON.stringify(value));
    return value;
  }

  /** The cached value, or computes, stores and returns it. */
  remember(key: string, compute: () => string): string {
    let value = this.get(key);
    if (value === undefined) {
      value = compute();
      this.set(key, value);
    }
    return value;
  }
}
