import type { Repo } from '../domain/model.ts';
import type { CommitDiff, GitBackend, GitCommit } from '../domain/ports.ts';
import { LruCache } from './render/lru.ts';

/** A repository's branch and tag names, in git's order (by name). */
export interface RefNames {
  readonly branches: readonly string[];
  readonly tags: readonly string[];
}

// About 16 MB (UTF-16): ref lists, pages of history and diffs (up to the commit page's cap each).
const CACHE_CHARS = 8 * 1024 * 1024;

/**
 * The pages' git reads, kept per repository and last recorded push, so a warm page does not start
 * a git process for them. Every ref update of a push (and of a hub commit, which goes through the
 * same outbox) is recorded after git has moved the ref and before the pusher has its answer, and
 * recording it sets `pushedAt` (a push whose record the database delays past post-receive's wait,
 * or that the reconciler finishes, shows up when it is recorded, as its runs do): after a push
 * every key of the repository is new, so nothing is read from before it (history and diffs
 * by commit id would not change anyway, but ref lists do, and so could history through pushed
 * `refs/replace/`). Something read between a ref update and its record is already the new state,
 * under the old key, which is harmless. Repositories without a recorded push (empty, or a fork
 * whose refs may still be being copied) are read every time. What a branch points at is not kept:
 * pages resolve it with git each time.
 */
export class CachedGitReads {
  private readonly cache = new LruCache(CACHE_CHARS);

  constructor(private readonly git: GitBackend) {}

  /** Branches and tags. */
  refNames(repo: Repo): Promise<RefNames> {
    return this.remember(repo, 'refs', async () => {
      const refs = await this.git.refs(repo.id);
      const named = (prefix: string) => refs.filter((r) => r.name.startsWith(prefix)).map((r) => r.name.slice(prefix.length));
      return { branches: named('refs/heads/'), tags: named('refs/tags/') };
    });
  }

  /** Up to `limit` commits of the history of `sha` (a commit id), newest first. */
  commits(repo: Repo, sha: string, limit: number): Promise<GitCommit[]> {
    return this.remember(repo, `log\0${sha}\0${limit}`, () => this.git.commits(repo.id, sha, limit));
  }

  /** What commit `to` changes against `from` (commit ids; null: a root commit), text diffs up to `maxBytes`. */
  diff(repo: Repo, from: string | null, to: string, maxBytes: number): Promise<CommitDiff | null> {
    return this.remember(repo, `diff\0${from ?? ''}\0${to}\0${maxBytes}`, () => this.git.diff(repo.id, from, to, maxBytes));
  }

  /**
   * The text of the results note of commit `sha` (refs/notes/mlproject, flat layout), cut at
   * `maxBytes`; null when it has none. The notes ref is asked of git every time (the server writes
   * notes without a push); the note under a notes commit never changes.
   */
  async note(repo: Repo, sha: string, maxBytes: number): Promise<string | null> {
    const head = await this.git.notesHead(repo.id);
    if (!head) return null;
    return this.remember(repo, `note\0${head}\0${sha}\0${maxBytes}`, async () => {
      const blob = await this.git.blob(repo.id, head, sha);
      if (!blob) return null;
      const chunks: Buffer[] = [];
      let bytes = 0;
      for await (const chunk of blob.content) {
        chunks.push(chunk as Buffer);
        bytes += (chunk as Buffer).length;
        if (bytes >= maxBytes) {
          blob.content.destroy();
          break;
        }
      }
      const text = Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
      return bytes > maxBytes ? `${text}\n… (cut at ${maxBytes} bytes)` : text;
    });
  }

  private remember<T>(repo: Repo, what: string, read: () => Promise<T>): Promise<T> {
    if (repo.pushedAt === null) return read();
    return this.cache.rememberJson(`${repo.id}\0${repo.pushedAt.getTime()}\0${what}`, read);
  }
}
