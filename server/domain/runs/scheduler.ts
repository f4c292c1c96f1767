import type { Db } from '../../db/connect.ts';
import * as runsDb from '../../db/runs.ts';
import type { JobQueue } from '../ports.ts';
import { SATISFYING, toRun, type Run, type RunEvents } from './model.ts';

export const RUN_JOB = 'run.execute';

/**
 * Moves runs from "created" to "in the queue" once everything they depend on has succeeded;
 * a dependency that ended any other way cancels its dependents (transitively), saying which.
 * Idempotent: called after every dispatch and every completion of a dispatch's runs.
 */
export class RunScheduler {
  constructor(
    private readonly db: Db,
    private readonly queue: JobQueue,
    private readonly events: RunEvents,
  ) {}

  async enqueueReady(dispatchId: string): Promise<void> {
    for (;;) {
      const runs = (await runsDb.runsOfDispatch(this.db, dispatchId)).map(toRun);
      const byId = new Map(runs.map((r) => [r.id, r]));
      let changed = false;
      for (const run of runs) {
        if (run.status !== 'queued') continue;
        const deps = run.dependsOn.map((id) => byId.get(id)).filter((d): d is Run => d !== undefined);
        const broken = deps.find((d) => d.status !== 'queued' && d.status !== 'running' && !SATISFYING.includes(d.status));
        if (broken) {
          const [cancelled] = await runsDb.cancelQueued(this.db, [run.id], `dependency ${broken.job} ended ${broken.status}`);
          if (cancelled) {
            this.events.completed(toRun(cancelled), {});
            changed = true;
          }
          continue;
        }
        if (deps.every((d) => SATISFYING.includes(d.status)) && !run.enqueuedAt) {
          await this.enqueue(run);
        }
      }
      if (!changed) return;
    }
  }

  async enqueue(run: Run): Promise<void> {
    await runsDb.markEnqueued(this.db, run.id);
    // jobId per attempt: a retry is a new queue message, a duplicate enqueue of one attempt is not.
    await this.queue.enqueue(RUN_JOB, { runId: run.id, attempt: run.attempt }, { jobId: `run-${run.id}-${run.attempt}` });
  }
}
