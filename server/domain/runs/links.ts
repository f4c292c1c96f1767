import type { Run } from './model.ts';

/**
 * Where a person looks at a run. For now the API's run URL; when the web UI serves
 * /<owner>/<repo>/runs/<id>, only this function changes (push output and webhooks' html link use it).
 */
export function runPageUrl(baseUrl: string, repoPath: string, runId: number): string {
  return `${baseUrl}/api/v1/repos/${repoPath}/runs/${runId}`;
}

/** The lines a push that started runs ends with (as `remote: `), one per run with its link, like GitHub's pull-request link. */
export function startedRunLines(baseUrl: string, repoPath: string, runs: readonly Run[]): string[] {
  return runs.map((run) => {
    const url = runPageUrl(baseUrl, repoPath, run.id);
    return run.status === 'queued' ? `mlgit: queued run ${run.id} (${run.job}) ${url}` : `mlgit: run ${run.id} (${run.job}) ${run.status} ${url}`;
  });
}
