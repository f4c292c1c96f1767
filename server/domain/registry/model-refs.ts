// Keeps refs/models/<model>/... in step with Postgres, the authority: version refs are created
// once and never moved; alias refs are set to the commit of the version the alias row names now,
// with a compare-and-swap update-ref from what the ref held, re-read and retried on conflict
// (as the notes writer does), so concurrent moves on several processes converge on the row.
import type { GitBackend } from '../ports.ts';

const MAX_ATTEMPTS = 20;

export class ModelRefs {
  /** Per repository, writes run one at a time in this process. */
  private readonly chains = new Map<number, Promise<void>>();

  constructor(private readonly git: GitBackend) {}

  /** Creates an immutable version ref; a ref already there (a retried registration) is left alone. */
  createVersionRef(repoId: number, ref: string, commit: string): Promise<void> {
    return this.serial(repoId, async () => {
      const existing = await this.git.readRef(repoId, ref);
      if (existing !== null) return;
      await this.git.updateRef(repoId, ref, commit, null);
    });
  }

  /** Points `ref` at what `desired()` answers at the time of the write (the alias row's commit now). */
  syncAliasRef(repoId: number, ref: string, desired: () => Promise<string | null>): Promise<void> {
    return this.serial(repoId, async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
        const current = await this.git.readRef(repoId, ref);
        const target = await desired();
        if (target === null || target === current) return;
        if ((await this.git.updateRef(repoId, ref, target, current)) === 'written') return;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(250, 5 * 2 ** attempt)));
      }
      throw new Error(`${ref} of repo ${repoId} kept moving; gave up after ${MAX_ATTEMPTS} attempts`);
    });
  }

  private serial(repoId: number, work: () => Promise<void>): Promise<void> {
    const previous = this.chains.get(repoId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => {});
    this.chains.set(repoId, settled);
    void settled.then(() => {
      if (this.chains.get(repoId) === settled) this.chains.delete(repoId);
    });
    return next;
  }
}
