import type { StatusService, StatusState } from '../statuses.ts';
import type { WebhookService } from '../webhooks.ts';
import { durationMs, type Comparison, type Run, type RunEvents, type RunStatus } from './model.ts';
import { runPageUrl } from './links.ts';

interface Log {
  warn(obj: object, msg: string): void;
}

const STATUS_STATE: Record<RunStatus, StatusState> = {
  queued: 'pending',
  running: 'pending',
  success: 'success',
  cached: 'success',
  failed: 'failure',
  timed_out: 'failure',
  cancelled: 'error',
  error: 'error',
};

/**
 * What the world hears about runs: a commit status per job (`mlgit/<job>`, and `mlgit/compare`
 * for baseline checks) and webhooks (run.queued, run.started, run.completed, metrics.regression).
 * Fire-and-forget: a failing receiver or status write never fails a run.
 */
export function runEvents(deps: { webhooks: Pick<WebhookService, 'emit'>; statuses: Pick<StatusService, 'set'>; baseUrl: () => string; repoPath: (repoId: number) => Promise<string>; log: Log }): RunEvents {
  const later = (what: string, run: Run, work: () => Promise<unknown>) => {
    void work().catch((err: unknown) => deps.log.warn({ err, runId: run.id, repoId: run.repoId }, `${what} failed`));
  };
  const links = async (run: Run) => {
    const repo = await deps.repoPath(run.repoId);
    const api = `${deps.baseUrl()}/api/v1/repos/${repo}/runs/${run.id}`;
    return { html: runPageUrl(deps.baseUrl(), repo, run.id), api, logs: `${api}/logs` };
  };
  const payload = async (run: Run) => ({
    run: {
      id: run.id,
      job: run.job,
      kind: run.kind,
      commit: run.commitSha,
      ref: run.ref,
      trigger: run.trigger,
      status: run.status,
      attempt: run.attempt,
      message: run.message,
      duration_ms: durationMs(run),
      cache_hit: run.cachedFrom !== null,
      cached_from: run.cachedFrom,
      links: await links(run),
    },
  });
  const status = (run: Run, description: string) =>
    later('commit status', run, async () =>
      deps.statuses.set(
        run.repoId,
        run.commitSha,
        { state: STATUS_STATE[run.status], context: `mlgit/${run.job}`.slice(0, 255), description: description.slice(0, 1000), targetUrl: (await links(run)).html },
        null,
      ),
    );
  return {
    queued(run) {
      status(run, 'queued');
      later('run.queued webhook', run, async () => deps.webhooks.emit(run.repoId, 'run.queued', await payload(run), run.createdBy));
    },
    started(run) {
      status(run, `running (attempt ${run.attempt})`);
      later('run.started webhook', run, async () => deps.webhooks.emit(run.repoId, 'run.started', await payload(run), run.createdBy));
    },
    completed(run, metrics) {
      status(run, run.message ?? run.status);
      const comparison = run.comparison;
      if (comparison?.baseline && run.spec.compare) {
        const failing = comparison.regressed.length > 0 && run.spec.compare.fail_on_regression !== false;
        later('compare status', run, async () =>
          deps.statuses.set(
            run.repoId,
            run.commitSha,
            {
              state: failing ? 'failure' : 'success',
              context: 'mlgit/compare',
              description: comparison.regressed.length
                ? `${run.job}: ${comparison.regressed.join(', ')} regressed vs ${comparison.baseline!.ref}@${comparison.baseline!.sha.slice(0, 7)}`
                : `${run.job}: no regression vs ${comparison.baseline!.ref}@${comparison.baseline!.sha.slice(0, 7)}`,
              targetUrl: (await links(run)).html,
            },
            null,
          ),
        );
      }
      later('run.completed webhook', run, async () =>
        deps.webhooks.emit(run.repoId, 'run.completed', { ...(await payload(run)), metrics, comparison: comparison ?? null, metric_problems: run.metricProblems }, run.createdBy),
      );
    },
    regression(run: Run, comparison: Comparison) {
      later('metrics.regression webhook', run, async () =>
        deps.webhooks.emit(run.repoId, 'metrics.regression', { ...(await payload(run)), comparison }, run.createdBy),
      );
    },
  };
}
