import { createHash } from 'node:crypto';
import type { Db } from '../db/connect.ts';
import * as outboxDb from '../db/push-outbox.ts';
import type { PushOutboxRow } from '../db/push-outbox.ts';
import * as runsDb from '../db/runs.ts';
import type { PushContext } from './hook-sessions.ts';
import { type RefUpdate, type Repo, ZERO_SHA } from './model.ts';
import type { GitBackend } from './ports.ts';
import { toRun, type Run } from './runs/model.ts';

/** RunDispatcher.dispatchPush: `dispatchIdOf` names the runs of each update. */
export type DispatchPush = (
  repo: Repo,
  pusherId: number | null,
  updates: readonly RefUpdate[],
  pushOptions: readonly string[],
  dispatchIdOf: (update: RefUpdate) => string,
) => Promise<Run[]>;

export interface PushOutboxOptions {
  /** Rows younger than this may belong to a push another node is still running: the reconciler leaves them. */
  readonly graceMs: number;
  readonly intervalMs: number;
}

export interface PushOutboxDeps {
  readonly db: Db;
  readonly git: GitBackend;
  readonly repoById: (id: number) => Promise<Repo | null>;
  readonly dispatch: DispatchPush;
  /** Queue follow-ups of a recorded push (repack, push webhooks): PushService.afterPush. */
  readonly afterPush: (context: { repoId: number; pusherId: number | null }, updates: readonly RefUpdate[]) => Promise<void>;
  /** Hook secrets of the pushes whose `git receive-pack` runs in this process. */
  readonly inFlight: () => Iterable<string>;
  readonly onError: (err: unknown, message: string) => void;
}

export interface Delivery {
  readonly runs: Run[];
  /** False when something waits on the database or the job queue: the reconciler finishes it later. */
  readonly complete: boolean;
}

/** A holder that died (SIGKILL) lets its rows go after this; a live one renews it while it works. */
const LEASE_MS = 15_000;
/**
 * post-receive answers after this even when finishing waits on a service (Redis down holds an
 * enqueue until it is back): the push has landed anyway. Long enough for a slow but working
 * service to still show the run links.
 */
const ANSWER_WITHIN_MS = 10_000;
const BATCH = 100;

/** Rows carry a hash, not the one-time secret itself (a credential while the push runs). */
function sessionKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * The push outbox: pre-receive records every accepted ref update before git moves the ref;
 * post-receive, or the reconciler when post-receive never got to it (a crash, the database or
 * Redis down), records the push and dispatches its runs, exactly once (claims are atomic and a
 * row's runs carry its id as their dispatch id), and deletes the row.
 */
export class PushOutbox {
  /** Sessions whose post-receive is still finishing here (it may outlive its answer). */
  private readonly finishing = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private reconciling = false;

  constructor(
    private readonly deps: PushOutboxDeps,
    private readonly options: PushOutboxOptions,
  ) {}

  /** End of pre-receive. Throws when the database cannot take the rows: the push then fails closed. */
  async accept(secret: string, context: PushContext, updates: readonly RefUpdate[], pushOptions: readonly string[]): Promise<void> {
    const session = sessionKey(secret);
    await outboxDb.insertPending(
      this.deps.db,
      updates.map((u) => ({ session, repoId: context.repoId, pusherId: context.pusherId, ref: u.ref, oldSha: u.oldSha, newSha: u.newSha, pushOptions })),
    );
  }

  /** post-receive, with the updates git actually made. Never throws; waits at most ANSWER_WITHIN_MS. */
  async deliver(secret: string, updates: readonly RefUpdate[]): Promise<Delivery> {
    const session = sessionKey(secret);
    this.finishing.add(session);
    const work = this.finishSession(session, updates)
      .catch((err: unknown) => {
        this.deps.onError(err, 'post-receive could not finish the push; the reconciler will');
        return { runs: [], complete: false };
      })
      .finally(() => this.finishing.delete(session));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Delivery>((resolve) => (timer = setTimeout(resolve, ANSWER_WITHIN_MS, { runs: [], complete: false })));
    try {
      return await Promise.race([work, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async finishSession(session: string, updates: readonly RefUpdate[]): Promise<Delivery> {
    const rows = await outboxDb.claimSession(this.deps.db, session, LEASE_MS);
    // A ref git did not move (a lost race for it, a failed atomic push) owes nothing.
    const made = (row: PushOutboxRow) => updates.some((u) => u.ref === row.ref && u.oldSha === row.old_sha && u.newSha === row.new_sha);
    return this.finishAll(rows, async (row) => made(row));
  }

  /** Finishes what post-receive left behind; returns what it did. */
  async reconcile(): Promise<{ finished: number; dropped: number; failed: number }> {
    const exclude = [...[...this.deps.inFlight()].map(sessionKey), ...this.finishing];
    const rows = await outboxDb.claimStale(this.deps.db, this.options.graceMs, exclude, LEASE_MS, BATCH);
    let dropped = 0;
    const result = await this.finishAll(rows, async (row) => {
      // 'recorded': post-receive saw the ref move. 'pending': only the repository can tell.
      const landed = row.state === 'recorded' || (await this.refMoved(row));
      if (!landed) dropped++;
      return landed;
    });
    return { finished: rows.length - dropped - result.failed, dropped, failed: result.failed };
  }

  /** Reconciles now (start-up) and every intervalMs until stop(). */
  start(): void {
    const pass = () => {
      if (this.reconciling) return;
      this.reconciling = true;
      void this.reconcile()
        .catch((err: unknown) => this.deps.onError(err, 'push outbox reconciliation failed'))
        .finally(() => (this.reconciling = false));
    };
    pass();
    this.timer = setInterval(pass, this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  backlog(): Promise<number> {
    return outboxDb.backlog(this.deps.db);
  }

  /** The push landed if the ref is at its new value or has moved on from it (deleted: it is gone). */
  private async refMoved(row: PushOutboxRow): Promise<boolean> {
    const current = (await this.deps.git.refs(row.repo_id)).find((r) => r.name === row.ref)?.sha ?? null;
    if (row.new_sha === ZERO_SHA) return current === null;
    if (current === null) return false;
    return current === row.new_sha || this.deps.git.isAncestor(row.repo_id, row.new_sha, current, {}).catch(() => false);
  }

  /** Each row on its own: one that fails is let go for the next pass and the others go on. */
  private async finishAll(rows: readonly PushOutboxRow[], landed: (row: PushOutboxRow) => Promise<boolean>): Promise<Delivery & { failed: number }> {
    const runs: Run[] = [];
    let failed = 0;
    const held = new Set(rows.map((row) => row.id));
    // Finishing can wait on Redis for long: the rows must not look abandoned meanwhile.
    const renew = setInterval(() => void outboxDb.extend(this.deps.db, [...held], LEASE_MS).catch(() => {}), LEASE_MS / 3);
    renew.unref();
    try {
      for (const row of rows) {
        try {
          if (await landed(row)) runs.push(...(await this.finishRow(row)));
          else await outboxDb.remove(this.deps.db, [row.id]);
        } catch (err) {
          failed++;
          this.deps.onError(err, `finishing push outbox row ${row.id} (repo ${row.repo_id}) failed; it is retried`);
          await outboxDb.release(this.deps.db, row.id).catch(() => {});
        }
        held.delete(row.id);
      }
    } finally {
      clearInterval(renew);
    }
    return { runs, complete: failed === 0, failed };
  }

  private async finishRow(row: PushOutboxRow): Promise<Run[]> {
    const { db } = this.deps;
    const repo = await this.deps.repoById(row.repo_id);
    if (!repo) {
      await outboxDb.remove(db, [row.id]);
      return [];
    }
    const update: RefUpdate = { ref: row.ref, oldSha: row.old_sha, newSha: row.new_sha };
    if (row.state === 'pending') await outboxDb.recordPush(db, row);
    const dispatchId = `push-${row.id}`;
    // A finisher that died after creating the runs must not create them again.
    const earlier = await runsDb.runsOfDispatch(db, dispatchId);
    const runs = earlier.length > 0 ? earlier.map(toRun) : await this.deps.dispatch(repo, row.pusher_id, [update], row.push_options, () => dispatchId);
    await this.deps.afterPush({ repoId: row.repo_id, pusherId: row.pusher_id }, [update]);
    await outboxDb.remove(db, [row.id]);
    return runs;
  }
}
