// Keeps refs/notes/mlproject in step with the source of truth (Postgres in production): each
// attempt reads the notes head, renders the commit's note from scratch, and writes it with a
// compare-and-swap from that head (mlproject.md, "Results on the commit"). Within a process the
// writes of one repository are serialized and repeated requests coalesce; across processes the
// CAS plus re-render on conflict makes every writer converge on a note that holds every run.
import type { GitBackend } from './ports.ts';

export interface NotesLog {
  warn(obj: object, msg: string): void;
}

export interface NotesWriterOptions {
  /** Attempts per refresh before giving up (default 20). */
  maxAttempts?: number;
  /** Backoff before the second attempt; doubles each time, with full jitter (default 5 ms). */
  baseDelayMs?: number;
  /** Largest backoff (default 250 ms). */
  maxDelayMs?: number;
}

/** Renders the whole note text of a commit, or null when there is nothing to note (yet). */
export type RenderNote = (repoId: number, commitSha: string) => Promise<string | null>;

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

interface RepoQueue {
  /** Commits waiting for a write, in request order, with everyone waiting on that write. */
  pending: Map<string, Waiter[]>;
  /** The loop draining `pending`; one per repository at a time. */
  running: Promise<void>;
}

const noLog: NotesLog = { warn: () => {} };

export class NotesWriter {
  private readonly queues = new Map<number, RepoQueue>();
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  /** Compare-and-swap conflicts seen so far (other writers won the race); for tests and benchmarks. */
  conflicts = 0;
  /** Notes commits this writer created. */
  writes = 0;

  constructor(
    private readonly git: GitBackend,
    private readonly render: RenderNote,
    private readonly log: NotesLog = noLog,
    options: NotesWriterOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 20;
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 250;
  }

  /**
   * Rewrites the note of `commitSha` from the source of truth. Resolves once a write that started
   * after this call has finished, so whatever the caller recorded before calling is in the note.
   * Requests for a commit already waiting join that write instead of adding one. Rejects (after
   * logging) when the note could not be written; fire-and-forget callers must catch.
   */
  refresh(repoId: number, commitSha: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const queue = this.queues.get(repoId);
      if (queue) {
        const waiters = queue.pending.get(commitSha);
        if (waiters) waiters.push({ resolve, reject });
        else queue.pending.set(commitSha, [{ resolve, reject }]);
        return;
      }
      const started: RepoQueue = { pending: new Map([[commitSha, [{ resolve, reject }]]]), running: Promise.resolve() };
      this.queues.set(repoId, started);
      started.running = this.drain(repoId, started);
    });
  }

  /** Resolves when no refresh is waiting or running (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.allSettled([...this.queues.values()].map((q) => q.running));
  }

  private async drain(repoId: number, queue: RepoQueue): Promise<void> {
    // Taking an entry out before writing is what coalesces: requests that arrive during the
    // write queue one more write for that commit, shared by all of them.
    for (let next = first(queue.pending); next; next = first(queue.pending)) {
      const [commitSha, waiters] = next;
      queue.pending.delete(commitSha);
      try {
        await this.write(repoId, commitSha);
        for (const w of waiters) w.resolve();
      } catch (err) {
        this.log.warn({ err, repoId, commit: commitSha }, 'could not write the mlproject note');
        for (const w of waiters) w.reject(err);
      }
    }
    this.queues.delete(repoId);
  }

  private async write(repoId: number, commitSha: string): Promise<void> {
    for (let attempt = 0; attempt < this.maxAttempts; attempt += 1) {
      // Head first, then render: a write that lands in between makes our CAS fail, and the retry
      // renders again, so no run recorded before a successful write can be missing from it.
      const head = await this.git.notesHead(repoId);
      const text = await this.render(repoId, commitSha);
      if (text === null) return;
      const result = await this.git.writeNote(repoId, { commit: commitSha, text, expectedHead: head });
      if (result === 'written') this.writes += 1;
      if (result !== 'conflict') return;
      this.conflicts += 1;
      await sleep(Math.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt));
    }
    throw new Error(`refs/notes/mlproject of repo ${repoId} kept moving: gave up on the note of ${commitSha} after ${this.maxAttempts} attempts`);
  }
}

function first<K, V>(map: Map<K, V>): [K, V] | undefined {
  return map.entries().next().value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
