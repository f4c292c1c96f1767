/** Counts git processes per key (repo, client address) so one repo or client cannot take them all. */
export class Slots {
  private readonly counts = new Map<string, number>();

  tryAcquire(key: string, max: number): boolean {
    const count = this.counts.get(key) ?? 0;
    if (count >= max) return false;
    this.counts.set(key, count + 1);
    return true;
  }

  release(key: string): void {
    const count = (this.counts.get(key) ?? 1) - 1;
    if (count <= 0) this.counts.delete(key);
    else this.counts.set(key, count);
  }
}
