import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ClaimedJob, CompleteRequest, RunnerSignal } from '../../../schema/runner-protocol.ts';
import type { Db } from '../../db/connect.ts';
import * as resultsDb from '../../db/run-results.ts';
import * as runsDb from '../../db/runs.ts';
import { conflict, invalid, notFound } from '../errors.ts';
import type { Principal, Repo } from '../model.ts';
import type { ObjectStore, RunLogStore } from '../ports.ts';
import { JobTokens } from './job-tokens.ts';
import { FINAL_STATUSES, toRun, type Run, type RunStatus } from './model.ts';
import type { RetryWhen } from './plan.ts';
import type { RunResults } from './results.ts';
import { RunnerContact } from './runner-contact.ts';
import type { RunScheduler } from './scheduler.ts';

export interface LifecycleOptions {
  readonly maxLogBytes: number;
  /** A running run whose runner has been silent this long is retried or marked error. */
  readonly stallTimeoutMs: number;
}

type RepoLookup = (id: number) => Promise<Repo | null>;

const JOB_USER = { id: 0, username: 'mlgit-job', email: null, isAdmin: false, createdAt: new Date(0) } as const;

/** The runner-facing half of a run's life: claim, heartbeat and logs, outputs, completion, retries, stalls, cancel. */
export class RunLifecycle {
  private readonly contact = new RunnerContact();
  /** When the stall sweep last failed (the database unreachable): heartbeats could not be written either. */
  private sweepFailedAt = -Infinity;

  constructor(
    private readonly db: Db,
    private readonly repoById: RepoLookup,
    private readonly store: ObjectStore,
    private readonly logs: RunLogStore,
    private readonly tokens: JobTokens,
    private readonly scheduler: RunScheduler,
    private readonly results: RunResults,
    private readonly options: LifecycleOptions,
  ) {}

  async claim(runId: number, attempt: number, runner: string): Promise<ClaimedJob> {
    const current = await runsDb.findRun(this.db, runId);
    if (!current) throw notFound('run');
    if (current.attempt !== attempt) throw conflict(`run ${runId} is at attempt ${current.attempt}, not ${attempt}`);
    const row = await runsDb.claim(this.db, runId, runner.slice(0, 200));
    if (!row) throw conflict(`run ${runId} is ${current.status}, not queued`);
    const run = toRun(row);
    const repo = await this.repoById(run.repoId);
    if (!repo) throw notFound('repository');
    await this.note(run, `[mlgit] run ${run.id} attempt ${run.attempt}: ${run.job} on ${run.commitSha.slice(0, 7)}, claimed by ${runner}\n`);
    this.results.started(run);
    const repoIds = [run.repoId, ...run.spec.datasets.map((d) => d.repoId)];
    // Valid for the job's timeout plus time to fetch and report; every use also checks the attempt is running.
    const token = this.tokens.mint({ runId: run.id, attempt: run.attempt, repoIds }, run.spec.job.timeoutSeconds + 1800);
    const inputs = [];
    for (const depId of run.dependsOn) {
      for (const output of await resultsDb.outputsOfRun(this.db, depId)) {
        inputs.push({ path: output.name, oid: output.oid, size: Number(output.size), href: `/api/v1/runner/runs/${run.id}/inputs/${output.oid}` });
      }
    }
    return {
      run: { id: run.id, attempt: run.attempt, repo: `${repo.owner}/${repo.name}`, commit: run.commitSha, ref: run.ref, job: run.job, project: run.project },
      source: { url: `/${repo.owner}/${repo.name}.git`, username: 'mlgit-job', token },
      datasets: run.spec.datasets.map((d) => ({ name: d.name, url: `/${d.repo}.git`, commit: d.commit })),
      inputs,
      spec: run.spec.job,
    };
  }

  /** The principal a job token stands for, while its attempt runs; null otherwise. */
  async jobPrincipal(token: string): Promise<Principal | null> {
    const claims = this.tokens.open(token);
    if (!claims) return null;
    const row = await runsDb.findRun(this.db, claims.runId);
    if (!row || row.status !== 'running' || row.attempt !== claims.attempt) return null;
    return { user: JOB_USER, scopes: new Set(['read']), via: 'job', job: { runId: claims.runId, repoIds: new Set(claims.repoIds) } };
  }

  async heartbeat(runId: number, attempt: number): Promise<RunnerSignal> {
    this.contact.heard(runId, attempt);
    const cancel = await runsDb.heartbeat(this.db, runId, attempt);
    if (cancel === undefined) throw conflict(`run ${runId} attempt ${attempt} is not running`);
    return { cancel };
  }

  /** `seq` (the batch's number in its attempt) makes a retried batch land once; runners without it are not retried. */
  async appendLog(runId: number, attempt: number, seq: number | undefined, body: Readable): Promise<RunnerSignal> {
    const signal = await this.heartbeat(runId, attempt);
    if (seq !== undefined && this.contact.logged(runId, attempt, seq)) {
      await finished(body.resume());
      return signal;
    }
    await this.logs.append(runId, body, this.options.maxLogBytes, seq === undefined ? undefined : `${attempt}:${seq}`);
    if (seq !== undefined) this.contact.stored(runId, attempt, seq);
    return signal;
  }

  /** Stores one declared output (hash and size verified by the store) and lists it on the run. */
  async uploadOutput(runId: number, attempt: number, name: string, oid: string, size: number, body: Readable): Promise<void> {
    await this.heartbeat(runId, attempt);
    const run = toRun((await runsDb.findRun(this.db, runId))!);
    const declared = run.spec.job.outputs.find((o) => o.path === name || `${o.path}.tar` === name);
    if (!declared) throw invalid(`"${name}" is not an output declared by job ${run.jobId}`);
    await this.store.put(oid, size, body);
    await resultsDb.insertOutput(this.db, runId, { name, type: declared.type, oid, size });
  }

  /** An output of a run this run depends on (the runner places it in the workspace). */
  async input(runId: number, oid: string): Promise<{ size: number; body: Readable }> {
    const run = await runsDb.findRun(this.db, runId);
    if (!run || run.status !== 'running') throw conflict(`run ${runId} is not running`);
    for (const depId of run.depends_on) {
      const output = (await resultsDb.outputsOfRun(this.db, depId)).find((o) => o.oid === oid);
      if (output) return { size: Number(output.size), body: await this.store.get(oid) };
    }
    throw notFound('input');
  }

  async complete(runId: number, request: CompleteRequest): Promise<Run> {
    this.contact.heard(runId, request.attempt);
    const current = await runsDb.findRun(this.db, runId);
    if (!current) throw notFound('run');
    const run = toRun(current);
    if (run.attempt === request.attempt && settledAsReported(run, request)) {
      // The runner retries a report whose answer it did not get (a database outage mid-way): answer
      // the same, and redo what the first try may not have reached (note, dependent runs; both idempotent).
      await this.results.completed(run);
      await this.scheduler.enqueueReady(run.dispatchId);
      return run;
    }
    if (run.status !== 'running' || run.attempt !== request.attempt) throw conflict(`run ${runId} attempt ${request.attempt} is not running`);
    const { status, reason, message } = settle(run, request);
    if (this.shouldRetry(run, status, reason)) {
      const requeued = await runsDb.requeue(this.db, runId, run.attempt, `attempt ${run.attempt} ${message}; retrying`);
      if (requeued) {
        await this.note(run, `[mlgit] attempt ${run.attempt} ${message}; retrying (${run.attempt} of ${run.spec.retries.max} retries used)\n`);
        await this.scheduler.enqueue(toRun(requeued));
        return toRun(requeued);
      }
    }
    // Metrics land before the run turns final: whoever sees `success` can read its metrics.
    // (Idempotent per run: a lost race below leaves nothing a later attempt would not replace.)
    if (status === 'success' && request.metrics) await this.results.recordMetrics(run, request.metrics);
    // So is the log's last line: a follower on any node stops at the first final status it sees.
    await this.note(run, `[mlgit] ${message}\n`);
    const row = await runsDb.finish(this.db, runId, run.attempt, { status, exitCode: request.exit_code, message });
    if (!row) throw conflict(`run ${runId} attempt ${request.attempt} was settled meanwhile`);
    const finished = toRun(row);
    await this.results.completed(finished);
    await this.scheduler.enqueueReady(finished.dispatchId);
    return finished;
  }

  /** Users cancel: queued runs end now, running ones are stopped by their runner at its next heartbeat. */
  async cancel(run: Run): Promise<Run> {
    if (run.status === 'queued') {
      const [row] = await runsDb.cancelQueued(this.db, [run.id], 'cancelled by a user');
      if (row) {
        const cancelled = toRun(row);
        await this.results.completed(cancelled);
        await this.scheduler.enqueueReady(cancelled.dispatchId);
        return cancelled;
      }
    }
    if (run.status === 'running' || run.status === 'queued') {
      await runsDb.requestCancel(this.db, run.id);
      return toRun((await runsDb.findRun(this.db, run.id))!);
    }
    throw conflict(`run ${run.id} has already finished (${run.status})`);
  }

  /**
   * Stall detection: a runner that died mid-job stops heartbeating; its run is retried (when
   * retries.when allows infra_error) or marked error, never left running. Runs that were
   * enqueued but never claimed (a queue lost with a restart) are enqueued again.
   * heartbeat_at is not the only witness: it cannot be written while the database is down, so
   * a run this process heard from within the window is alive, and after a sweep failed (the
   * database unreachable) runners get a whole window to heartbeat again before anyone is judged.
   */
  async sweep(now = Date.now()): Promise<{ retried: number; failed: number; reenqueued: number }> {
    try {
      return await this.sweepNow(now);
    } catch (err) {
      this.sweepFailedAt = now;
      throw err;
    }
  }

  private async sweepNow(now: number): Promise<{ retried: number; failed: number; reenqueued: number }> {
    const stats = { retried: 0, failed: 0, reenqueued: 0 };
    const windowStart = now - this.options.stallTimeoutMs;
    this.contact.prune(windowStart);
    const stalled = this.sweepFailedAt < windowStart ? await runsDb.stalledRuns(this.db, new Date(windowStart)) : [];
    for (const row of stalled) {
      const run = toRun(row);
      if (this.contact.heardSince(run.id, run.attempt, windowStart)) continue;
      const message = `runner ${run.runner ?? '?'} stopped responding (no heartbeat for ${Math.round(this.options.stallTimeoutMs / 1000)} s)`;
      if (this.shouldRetry(run, 'error', 'infra_error')) {
        const requeued = await runsDb.requeue(this.db, run.id, run.attempt, `attempt ${run.attempt}: ${message}; retrying`);
        if (requeued) {
          await this.note(run, `[mlgit] ${message}; retrying\n`);
          await this.scheduler.enqueue(toRun(requeued));
          stats.retried++;
        }
        continue;
      }
      await this.note(run, `[mlgit] ${message}\n`);
      const finished = await runsDb.finish(this.db, run.id, run.attempt, { status: 'error', exitCode: null, message });
      if (finished) {
        await this.results.completed(toRun(finished));
        await this.scheduler.enqueueReady(run.dispatchId);
        stats.failed++;
      }
    }
    for (const row of await runsDb.unclaimedRuns(this.db, new Date(now - this.options.stallTimeoutMs))) {
      await this.scheduler.enqueue(toRun(row));
      stats.reenqueued++;
    }
    // Whatever a missed event or a restart left waiting with slots free goes now.
    await this.scheduler.topUp();
    return stats;
  }

  private shouldRetry(run: Run, status: RunStatus, reason: RetryWhen | null): boolean {
    if (status === 'success' || status === 'cancelled' || run.attempt > run.spec.retries.max) return false;
    const when = run.spec.retries.when;
    return when.includes('any') || (reason !== null && when.includes(reason));
  }

  private async note(run: Run, text: string): Promise<void> {
    await this.logs.append(run.id, Readable.from([Buffer.from(text)]), this.options.maxLogBytes + 4096);
  }
}

/** Whether `run` already ended as `request` reports (by this request, whose answer was lost). */
function settledAsReported(run: Run, request: CompleteRequest): boolean {
  return FINAL_STATUSES.includes(run.status) && run.status === settle(run, request).status && run.exitCode === request.exit_code;
}

/** The final status, the retries.when reason it counts as, and a sentence for the run and its log. */
export function settle(run: Run, r: CompleteRequest, now = new Date()): { status: RunStatus; reason: RetryWhen | null; message: string } {
  // The run's own duration (started -> finished, what the API and UI show), not only the job
  // command's: the two differ by the checkout and uploads, and a message must agree with the run.
  const took = `after ${formatDuration(run.startedAt ? now.getTime() - run.startedAt.getTime() : r.duration_ms)}`;
  switch (r.outcome) {
    case 'exited':
      return r.exit_code === 0
        ? { status: 'success', reason: null, message: `succeeded ${took}` }
        : { status: 'failed', reason: null, message: `failed with exit code ${r.exit_code} ${took}` };
    case 'timeout':
      return { status: 'timed_out', reason: 'timeout', message: `timed out after ${run.spec.job.timeoutSeconds} s` };
    case 'oom':
      return { status: 'failed', reason: 'oom', message: `ran out of memory (limit ${Math.round(run.spec.job.resources.memoryBytes / 2 ** 20)} MiB) ${took}` };
    case 'cancelled':
      return { status: 'cancelled', reason: null, message: `cancelled ${took}` };
    case 'error':
      return { status: 'error', reason: 'infra_error', message: `infrastructure error: ${(r.message ?? 'unknown').slice(0, 2000)}` };
  }
}

/** "855 ms", "4.2 s", "3 min 05 s": precise enough to agree with the run's recorded duration. */
function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}
