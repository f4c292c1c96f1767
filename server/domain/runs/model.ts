import type { RunRow } from '../../db/tables.ts';
import type { StoredSpec } from './plan.ts';

export type RunStatus = 'queued' | 'running' | 'success' | 'failed' | 'cancelled' | 'timed_out' | 'cached' | 'error';
export const FINAL_STATUSES: readonly RunStatus[] = ['success', 'failed', 'cancelled', 'timed_out', 'cached', 'error'];
/** Dependencies in these states let their dependents start. */
export const SATISFYING: readonly RunStatus[] = ['success', 'cached'];

export interface Run {
  readonly id: number;
  readonly repoId: number;
  readonly commitSha: string;
  readonly ref: string | null;
  readonly dispatchId: string;
  readonly project: string;
  readonly jobId: string;
  readonly job: string;
  readonly kind: string;
  readonly trigger: string;
  readonly status: RunStatus;
  readonly attempt: number;
  readonly spec: StoredSpec;
  readonly dependsOn: readonly number[];
  readonly cacheKey: string | null;
  readonly cachedFrom: number | null;
  readonly createdBy: number | null;
  readonly runner: string | null;
  readonly exitCode: number | null;
  readonly message: string | null;
  readonly metricProblems: readonly string[];
  readonly comparison: Comparison | null;
  readonly cancelRequested: boolean;
  readonly createdAt: Date;
  /** Set once the run's current attempt has been handed to the queue. */
  readonly enqueuedAt: Date | null;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

export interface Comparison {
  readonly baseline: { readonly ref: string; readonly sha: string; readonly runId: number } | null;
  readonly metrics: readonly {
    metric: string;
    base: number | null;
    head: number | null;
    delta: number | null;
    relative: number | null;
    goal: string | null;
    regressed: boolean;
  }[];
  readonly regressed: readonly string[];
}

export function toRun(row: RunRow): Run {
  return {
    id: row.id,
    repoId: row.repo_id,
    commitSha: row.commit_sha,
    ref: row.ref,
    dispatchId: row.dispatch_id,
    project: row.project,
    jobId: row.job_id,
    job: row.job,
    kind: row.kind,
    trigger: row.trigger,
    status: row.status as RunStatus,
    attempt: row.attempt,
    spec: row.spec as StoredSpec,
    dependsOn: row.depends_on,
    cacheKey: row.cache_key,
    cachedFrom: row.cached_from,
    createdBy: row.created_by,
    runner: row.runner,
    exitCode: row.exit_code,
    message: row.message,
    metricProblems: row.metric_problems,
    comparison: (row.comparison as Comparison | null) ?? null,
    cancelRequested: row.cancel_requested,
    createdAt: row.created_at,
    enqueuedAt: row.enqueued_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** The params a run's job used, by name, sorted (older runs: read back from their MLP_PARAM_* variables). */
export function paramsOf(run: Pick<Run, 'spec'>): [string, string][] {
  const entries = run.spec.params
    ? Object.entries(run.spec.params).map(([name, value]) => [name, String(value)] as [string, string])
    : Object.entries(run.spec.job.env).flatMap(([key, value]) => (key.startsWith('MLP_PARAM_') ? [[key.slice('MLP_PARAM_'.length).toLowerCase(), value] as [string, string]] : []));
  return entries.sort((a, b) => a[0].localeCompare(b[0]));
}

export function durationMs(run: Pick<Run, 'startedAt' | 'finishedAt'>): number | null {
  return run.startedAt && run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null;
}

/** What else happens when runs change state: webhooks and commit statuses (wired in app.ts). */
export interface RunEvents {
  queued(run: Run): void;
  started(run: Run): void;
  completed(run: Run, metrics: Record<string, number>): void;
  regression(run: Run, comparison: Comparison): void;
}
