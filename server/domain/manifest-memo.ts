import type { Manifest } from '../../schema/manifest.ts';
import type { FileAtCommit } from './ports.ts';
import type { PathId } from './runs/commit-inputs.ts';

/** What pre-receive read of one pushed commit that its runs need (server/domain/runs/commit-inputs.ts). */
export interface CommitReads {
  /** Null when the commit has no valid manifest (then it starts no runs, and nothing else is kept). */
  readonly manifest: Manifest | null;
  /** The manifest's params file as read at the commit. */
  readonly paramsFile?: FileAtCommit;
  /** The commit's root tree and the entries under the inputs' prefixes; absent when too many to keep. */
  readonly inputs?: { readonly rootTree: string; readonly entries: readonly PathId[] };
}

/**
 * What pre-receive has just read and parsed, by repository and commit, so that post-receive's
 * dispatch of the same push neither starts git to read those files again nor parses the manifest
 * again (issue 15: push latency). A commit's files never change, so an entry is right for as
 * long as it lives; only the dispatcher reads it, and only for commits that landed. Small and
 * in-process: a miss (another node, a restart, the reconciler) just reads git as before.
 */
export class ManifestMemo {
  readonly #entries = new Map<string, CommitReads>();

  constructor(private readonly capacity = 64) {}

  remember(repoId: number, commitSha: string, reads: CommitReads): void {
    const key = `${repoId}:${commitSha}`;
    this.#entries.delete(key);
    this.#entries.set(key, reads);
    // Maps iterate in insertion order: the first key is the least recently remembered.
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  /** What was read at this commit, or undefined when it was not seen. */
  recall(repoId: number, commitSha: string): CommitReads | undefined {
    return this.#entries.get(`${repoId}:${commitSha}`);
  }
}
