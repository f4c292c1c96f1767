import { createHash } from 'node:crypto';
import type { Db } from '../db/connect.ts';
import * as outboxDb from '../db/push-outbox.ts';
import type { PushOutboxRow } from '../db/push-outbox.ts';
import * as runsDb from '../db/runs.ts';
import { notFound } from './errors.ts';
import type { PushContext } from './hook-sessions.ts';
import { type RefUpdate, type Repo, ZERO_SHA } from './model.ts';
import type { GitBackend } from './ports.ts';
import { toRun, type Run } from './runs/model.ts';
import { isForeignKeyViolation } from './sql-errors.ts';

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
  /** Cancels the queued runs that a push's runs supersede (those made before `firstRunId`): RunDispatcher.supersede. */
  readonly supersede: (repoId: number, update: RefUpdate, firstRunId: number) => Promise<void>;
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
 * post-receive answers once the push is recorded and its runs exist (database work only: the
 * queue follow-ups go on after the answer, so a push never waits on Redis), or after this when
 * the database itself is slow or down: the push has landed anyway.
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
    await outboxDb
      .insertPending(
        this.deps.db,
        updates.map((u) => ({ session, repoId: context.repoId, pusherId: context.pusherId, ref: u.ref, oldSha: u.oldSha, newSha: u.newSha, pushOptions })),
      )
      .catch((err: unknown) => {
        // The row names the repository: it was deleted since the push began.
        throw isForeignKeyViolation(err) ? notFound('repository') : err;
      });
  }

  /** post-receive, with the updates git actually made. Never throws; waits at most ANSWER_WITHIN_MS. */
  async deliver(secret: string, updates: readonly RefUpdate[], repo?: Repo): Promise<Delivery> {
    const session = sessionKey(secret);
    this.finishing.add(session);
    let recorded: (delivery: Delivery) => void = () => {};
    const answer = new Promise<Delivery>((resolve) => (recorded = resolve));
    const work = this.finishSession(session, updates, recorded, repo)
      .catch((err: unknown) => {
        this.deps.onError(err, 'post-receive could not finish the push; the reconciler will');
        return { runs: [], complete: false };
      })
      .finally(() => this.finishing.delete(session));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Delivery>((resolve) => (timer = setTimeout(resolve, ANSWER_WITHIN_MS, { runs: [], complete: false })));
    try {
      return await Promise.race([answer, work, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async finishSession(session: string, updates: readonly RefUpdate[], recorded: (delivery: Delivery) => void, repo?: Repo): Promise<Delivery> {
    const rows = await outboxDb.claimSession(this.deps.db, session, LEASE_MS);
    // A ref git did not move (a lost race for it, a failed atomic push) owes nothing.
    const made = (row: PushOutboxRow) => updates.some((u) => u.ref === row.ref && u.oldSha === row.old_sha && u.newSha === row.new_sha);
    return this.finishAll(rows, async (row) => made(row), recorded, repo);
  }

  /** Finishes what post-receive left behind; returns what it did. */
  async reconcile(): Promise<{ finished: number; dropped: number; failed: number }> {
    const exclude = [...[...this.deps.inFlight()].map(sessionKey), ...this.finishing];
    const rows = await outboxDb.claimStale(this.deps.db, this.options.graceMs, exclude, LEASE_MS, BATCH);
    let dropped = 0;
    const result = await this.finishAll(rows, async (row) => {
      // 'recorded': post-receive saw the ref move. 'pending': only the repository can tell, and
      // a ref at the row's new value may have been moved there by a retry of a push that was
      // refused after its row was written (the database's answer lost in a cut): that retry
      // records the push, this row must not record it again.
      const landed = row.state === 'recorded' || ((await this.refMoved(row)) && !(await outboxDb.sameUpdateSince(this.deps.db, row)));
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

  /**
   * Each row on its own: one that fails is let go for the next pass and the others go on. Two
   * phases: the database work of every row (push recorded, runs created), after which
   * `recorded` may answer the pusher, then the queue follow-ups (repack, webhooks), which can
   * wait on Redis; a row is deleted only when both are done.
   */
  private async finishAll(
    rows: readonly PushOutboxRow[],
    landed: (row: PushOutboxRow) => Promise<boolean>,
    recorded: (delivery: Delivery) => void = () => {},
    known?: Repo,
  ): Promise<Delivery & { failed: number }> {
    const runs: Run[] = [];
    let failed = 0;
    const held = new Set(rows.map((row) => row.id));
    const fail = async (row: PushOutboxRow, err: unknown) => {
      failed++;
      held.delete(row.id);
      this.deps.onError(err, `finishing push outbox row ${row.id} (repo ${row.repo_id}) failed; it is retried`);
      await outboxDb.release(this.deps.db, row.id).catch(() => {});
    };
    // Finishing can wait on Redis for long: the rows must not look abandoned meanwhile.
    const renew = setInterval(() => void outboxDb.extend(this.deps.db, [...held], LEASE_MS).catch(() => {}), LEASE_MS / 3);
    renew.unref();
    try {
      const followUps: { row: PushOutboxRow; update: RefUpdate; firstRunId: number | null }[] = [];
      for (const row of rows) {
        try {
          const before = runs.length;
          const update = (await landed(row)) ? await this.recordRow(row, runs, known) : null;
          const made = runs.slice(before).map((run) => run.id);
          if (update) followUps.push({ row, update, firstRunId: made.length > 0 ? Math.min(...made) : null });
          else {
            await outboxDb.remove(this.deps.db, [row.id]);
            held.delete(row.id);
          }
        } catch (err) {
          await fail(row, err);
        }
      }
      recorded({ runs, complete: failed === 0 });
      for (const { row, update, firstRunId } of followUps) {
        try {
          if (firstRunId !== null) await this.deps.supersede(row.repo_id, update, firstRunId);
          await this.deps.afterPush({ repoId: row.repo_id, pusherId: row.pusher_id }, [update]);
          await outboxDb.remove(this.deps.db, [row.id]);
          held.delete(row.id);
        } catch (err) {
          await fail(row, err);
        }
      }
    } finally {
      clearInterval(renew);
    }
    return { runs, complete: failed === 0, failed };
  }

  /** The database half of a row: the push recorded and its runs created (once); null when its repository is gone. */
  /** `known`: the repository as its push was authorized, which spares reading it again. */
  private async recordRow(row: PushOutboxRow, runs: Run[], known?: Repo): Promise<RefUpdate | null> {
    const { db } = this.deps;
    const repo = known?.id === row.repo_id ? known : await this.deps.repoById(row.repo_id);
    if (!repo) return null;
    const update: RefUpdate = { ref: row.ref, oldSha: row.old_sha, newSha: row.new_sha };
    const fresh = row.state === 'pending';
    if (fresh) await outboxDb.recordPush(db, row);
    const dispatchId = `push-${row.id}`;
    // A finisher that died after creating the runs must not create them again. Runs are created
    // only once the push is recorded, so a row that was still pending has none (one query less).
    const earlier = fresh ? [] : await runsDb.runsOfDispatch(db, dispatchId);
    runs.push(...(earlier.length > 0 ? earlier.map(toRun) : await this.deps.dispatch(repo, row.pusher_id, [update], row.push_options, () => dispatchId)));
    return update;
  }
}
