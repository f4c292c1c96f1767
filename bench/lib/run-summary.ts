/** The fields of `GET /api/v1/repos/:owner/:name/runs` that scripts read. */
export interface RunSummary {
  id: number;
  job: string;
  status: string;
  message: string | null;
  finished_at: string;
}

/** Statuses a run does not leave. */
export const FINAL_STATUSES = ['success', 'failed', 'cancelled', 'timed_out', 'cached', 'error'];
