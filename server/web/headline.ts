import type { CommitMetrics } from '../domain/runs/queries.ts';
import type { Headline } from './views/commits.ts';

/** The first job (by name) whose run has its declared primary metric. */
export function headlineOf(own: CommitMetrics, parent: CommitMetrics | null): Headline | null {
  for (const { run, metrics } of [...own.jobs].sort((a, b) => a.run.job.localeCompare(b.run.job))) {
    const key = run.spec.primary;
    if (!key || !Object.hasOwn(metrics, key)) continue;
    const before = parent?.jobs.find((j) => j.run.job === run.job)?.metrics;
    const base = before && Object.hasOwn(before, key) ? before[key]! : null;
    const goal = Object.hasOwn(run.spec.goals, key) ? run.spec.goals[key]! : null;
    return { job: run.job, metric: key, value: metrics[key]!, delta: base === null ? null : metrics[key]! - base, goal };
  }
  return null;
}

