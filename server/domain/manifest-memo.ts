import type { Manifest } from '../../schema/manifest.ts';

/**
 * The manifests pre-receive has just read and parsed, by repository and commit, so that
 * post-receive's dispatch of the same push neither starts git to read the file again nor parses
 * it again (issue 15: push latency). A commit's manifest never changes, so an entry is right for
 * as long as it lives; only the dispatcher reads it, and only for commits that landed. Small and
 * in-process: a miss (another node, a restart, the reconciler) just reads the file as before.
 */
export class ManifestMemo {
  readonly #entries = new Map<string, Manifest | null>();

  constructor(private readonly capacity = 64) {}

  /** `manifest` is null when the commit has no valid manifest (then it starts no runs). */
  remember(repoId: number, commitSha: string, manifest: Manifest | null): void {
    const key = `${repoId}:${commitSha}`;
    this.#entries.delete(key);
    this.#entries.set(key, manifest);
    // Maps iterate in insertion order: the first key is the least recently remembered.
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  /** The remembered manifest (null: none), or undefined when this commit was not seen. */
  recall(repoId: number, commitSha: string): Manifest | null | undefined {
    return this.#entries.get(`${repoId}:${commitSha}`);
  }
}
