/**
 * The Hub's `downloads` of a repository: how many files were fetched through `resolve` since this
 * process started (not persisted: a popularity hint for `listModels?sort=downloads`, not an audit).
 */
export class DownloadCounter {
  private readonly counts = new Map<number, number>();

  count(repoId: number): void {
    this.counts.set(repoId, (this.counts.get(repoId) ?? 0) + 1);
  }

  of(repoId: number): number {
    return this.counts.get(repoId) ?? 0;
  }
}
