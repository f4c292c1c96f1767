/**
 * The Hub's `downloads` of a repository: files fetched through `resolve`, kept in the repo's row.
 * Counted in memory and added to the rows every few seconds, one statement per repo, so a busy
 * model costs no database write per file; a crash loses at most that window's counts.
 */
export class DownloadCounter {
  readonly #pending = new Map<number, number>();
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: { addDownloads(counts: ReadonlyMap<number, number>): Promise<void> },
    private readonly onError: (err: unknown) => void,
    private readonly flushMs = 5_000,
  ) {}

  count(repoId: number): void {
    this.#pending.set(repoId, (this.#pending.get(repoId) ?? 0) + 1);
    if (this.#timer) return;
    this.#timer = setTimeout(() => void this.flush(), this.flushMs);
    this.#timer.unref();
  }

  /** What the repo's row said when it was read, and what is counted but not written yet. */
  of(repo: { id: number; downloads: number }): number {
    return repo.downloads + (this.#pending.get(repo.id) ?? 0);
  }

  /** Writes what is counted; on failure the counts stay for the next flush. */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#pending.size === 0) return;
    const taken = new Map(this.#pending);
    this.#pending.clear();
    try {
      await this.store.addDownloads(taken);
    } catch (err) {
      for (const [repoId, n] of taken) this.#pending.set(repoId, (this.#pending.get(repoId) ?? 0) + n);
      this.onError(err);
    }
  }
}
