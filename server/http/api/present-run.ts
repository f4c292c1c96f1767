import { durationMs, type Run } from '../../domain/runs/model.ts';

export function presentRun(run: Run, base: string, repoPath: string) {
  const self = `${base}/api/v1/repos/${repoPath}/runs/${run.id}`;
  return {
    id: run.id,
    repository: repoPath,
    commit: run.commitSha,
    ref: run.ref,
    project: run.project,
    job: run.job,
    job_id: run.jobId,
    kind: run.kind,
    trigger: run.trigger,
    status: run.status,
    attempt: run.attempt,
    image: run.spec.job.image,
    depends_on: run.dependsOn,
    cache_key: run.cacheKey,
    cached_from: run.cachedFrom,
    runner: run.runner,
    exit_code: run.exitCode,
    message: run.message,
    metric_problems: run.metricProblems,
    comparison: run.comparison,
    cancel_requested: run.cancelRequested,
    created_at: run.createdAt.toISOString(),
    started_at: run.startedAt?.toISOString() ?? null,
    finished_at: run.finishedAt?.toISOString() ?? null,
    duration_ms: durationMs(run),
    links: { self, logs: `${self}/logs`, outputs: `${self}/outputs/` },
  };
}
