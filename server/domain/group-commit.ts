interface Waiter<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Group commit: items added while a write is in flight, or in the same turn of the event loop,
 * are written together by the next write, so N concurrent callers cost about N/k statements and
 * commits (WAL flushes) instead of N. A caller's promise settles only once the write holding its
 * item has finished, so nothing is acknowledged before it is stored.
 *
 * Writes start from setImmediate rather than at once: with the embedded database a statement runs
 * synchronously and blocks the event loop, so the uploads that finished meanwhile can only add
 * their items in the next I/O phase; waiting for it (microseconds) is what lets them share a write.
 */
export class GroupCommit<T> {
  #pending: Waiter<T>[] = [];
  #writing = false;

  constructor(
    private readonly write: (items: readonly T[]) => Promise<void>,
    private readonly maxItems = 256,
  ) {}

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#writing) return;
      this.#writing = true;
      void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    do {
      await new Promise((resolve) => setImmediate(resolve));
      await this.#settle(this.#pending.splice(0, this.maxItems));
    } while (this.#pending.length > 0);
    this.#writing = false;
  }

  /** Never throws: every waiter of the group is resolved or rejected. */
  async #settle(group: Waiter<T>[]): Promise<void> {
    try {
      await this.write(group.map((w) => w.item));
      for (const w of group) w.resolve();
    } catch (err) {
      if (group.length === 1) {
        group[0]!.reject(err);
        return;
      }
      // One bad item (a row whose repository was deleted meanwhile) must not fail the others:
      // write them one by one, so each caller gets its own outcome.
      for (const w of group) await this.write([w.item]).then(w.resolve, w.reject);
    }
  }
}
