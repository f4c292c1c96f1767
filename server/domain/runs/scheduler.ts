import type { Db } from '../../db/connect.ts';
import * as runQueue from '../../db/run-queue.ts';
import * as runsDb from '../../db/runs.ts';
import type { JobQueue } from '../ports.ts';
import { SATISFYING, toRun, type Run, type RunEvents } from './model.ts';
import { pickRuns, type QueueLimits } from './queue-policy.ts';

export const RUN_JOB = 'run.execute';

/**
 * Runs stay `queued` rows until a job slot is free: the scheduler hands the queue only as many
 * runs as the window allows, chosen by the fair policy of queue-policy.ts, and tops up whenever
 * something may have changed (a dispatch, a completion, a cancel, the periodic sweep). A run
 * waits for everything it depends on to succeed; a dependency that ended any other way cancels
 * its dependents (transitively), saying which.
 */
export class RunScheduler {
  /** Top-ups run one after another in this process, so two never fill the same free slot. */
  private filling: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly queue: JobQueue,
    private readonly events: RunEvents,
    private readonly limits: Pick<QueueLimits, 'queueWindow' | 'maxRunningPerOwner' | 'maxRunningPerRepo'>,
  ) {}

  /** Cancels the dependents of broken dependencies in a dispatch, then tops up. Idempotent. */
  async enqueueReady(dispatchId: string): Promise<void> {
    for (;;) {
      const runs = (await runsDb.runsOfDispatch(this.db, dispatchId)).map(toRun);
      const byId = new Map(runs.map((r) => [r.id, r]));
      let changed = false;
      for (const run of runs) {
        if (run.status !== 'queued') continue;
        const deps = run.dependsOn.map((id) => byId.get(id)).filter((d): d is Run => d !== undefined);
        const broken = deps.find((d) => d.status !== 'queued' && d.status !== 'running' && !SATISFYING.includes(d.status));
        if (!broken) continue;
        const [cancelled] = await runsDb.cancelQueued(this.db, [run.id], `dependency ${broken.job} ended ${broken.status}`);
        if (cancelled) {
          this.events.completed(toRun(cancelled), {});
          changed = true;
        }
      }
      if (!changed) break;
    }
    await this.topUp();
  }

  /** Hands ready runs to the queue until the window is full. */
  topUp(): Promise<void> {
    const next = this.filling.then(() => this.fill());
    this.filling = next.catch(() => {});
    return next;
  }

  /**
   * Sends a run that already holds a slot (a retry of a run that was running, or a queue message
   * lost with a restart) straight to the queue, past the policy.
   */
  async enqueue(run: Run): Promise<void> {
    await runsDb.markEnqueued(this.db, run.id);
    await this.send(run.id, run.attempt);
  }

  private async fill(): Promise<void> {
    const inFlight = await runQueue.runsInFlight(this.db);
    const free = this.limits.queueWindow - inFlight.length;
    if (free <= 0) return;
    const ready = await runQueue.readyRuns(this.db, SATISFYING, free);
    for (const run of pickRuns(inFlight, ready, this.limits)) {
      if (await runQueue.markEnqueuedIfWaiting(this.db, run.id)) await this.send(run.id, run.attempt);
    }
  }

  private async send(runId: number, attempt: number): Promise<void> {
    // jobId per attempt: a retry is a new queue message, a duplicate enqueue of one attempt is not.
    await this.queue.enqueue(RUN_JOB, { runId, attempt }, { jobId: `run-${runId}-${attempt}` });
  }
}
