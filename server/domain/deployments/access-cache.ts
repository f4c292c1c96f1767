// The serving path's answer to "may this caller read this repository", kept for a second. Every
// proxied request needs it, and the two queries behind it (the repo by name, the caller's role)
// cost more than the whole proxy hop on the embedded database, which runs one query at a time:
// uncached, mlgit added ~23 ms per request at concurrency 16 (bench:serving). A change of access
// (a repo made private, a collaborator removed) reaches the proxy within that second; tokens and
// users are checked before this, by authentication, which has its own short caches.
import type { RepoAccess } from '../repos.ts';

const TTL_MS = 1000;
/** Beyond this many callers x repositories the cache starts afresh (a flood of names must not grow memory). */
const MAX_ENTRIES = 10_000;

interface Entry {
  readonly until: number;
  readonly answer: Promise<RepoAccess>;
}

export class AccessCache {
  private readonly entries = new Map<string, Entry>();

  /** The cached answer (also a refusal: a flood of refused requests costs the database nothing more) or a fresh one. */
  get(key: string, load: () => Promise<RepoAccess>): Promise<RepoAccess> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.answer;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    const answer = load();
    // Unexpected failures (the database down) are not kept: the next request asks again.
    answer.catch((error: unknown) => {
      if (!(error instanceof Error && 'code' in error)) this.entries.delete(key);
    });
    this.entries.set(key, { until: now + TTL_MS, answer });
    return answer;
  }
}
