import type { Db } from '../../db/connect.ts';
import * as resultsDb from '../../db/run-results.ts';
import * as runsDb from '../../db/runs.ts';
import { compareMetrics, type MetricComparison } from '../compare.ts';
import { invalid, notFound } from '../errors.ts';
import type { Repo } from '../model.ts';
import type { GitBackend } from '../ports.ts';
import { toRun, type Run, type RunStatus } from './model.ts';

const STATUSES: readonly RunStatus[] = ['queued', 'running', 'success', 'failed', 'cancelled', 'timed_out', 'cached', 'error'];
const HISTORY_COMMITS = 200;

/** A commit's latest run of each job with its summary metrics. */
export interface CommitMetrics {
  commit: string;
  jobs: { run: Run; metrics: Record<string, number> }[];
}

/** The key of a commit in metricsOfCommits' answer. */
export function commitKey(repo: Repo, sha: string): string {
  return `${repo.id}:${sha}`;
}

export interface RunDetail {
  run: Run;
  metrics: Record<string, number>;
  outputs: { name: string; type: string; oid: string; size: number }[];
}

/** Read side of runs and metrics for the API (web page plots use `history`). */
export class RunQueries {
  constructor(
    private readonly db: Db,
    private readonly git: GitBackend,
  ) {}

  async list(repo: Repo, filter: { ref?: string; commit?: string; status?: string; job?: string }, limit: number, offset: number) {
    if (filter.status !== undefined && !STATUSES.includes(filter.status as RunStatus)) throw invalid(`status must be one of ${STATUSES.join(', ')}`);
    if (filter.commit !== undefined && !/^[0-9a-f]{4,40}$/.test(filter.commit)) throw invalid('commit must be 4 to 40 lowercase hex digits');
    const ref = filter.ref && !filter.ref.startsWith('refs/') ? `refs/heads/${filter.ref}` : filter.ref;
    const { rows, total } = await runsDb.listRuns(this.db, { repoId: repo.id, ...filter, ref }, limit, offset);
    return { runs: rows.map(toRun), total };
  }

  async run(repo: Repo, runId: number): Promise<Run> {
    const row = await runsDb.findRun(this.db, runId);
    if (!row || row.repo_id !== repo.id) throw notFound('run');
    return toRun(row);
  }

  async detail(repo: Repo, runId: number): Promise<RunDetail> {
    const run = await this.run(repo, runId);
    const [metrics, outputs] = await Promise.all([resultsDb.metricsOfRuns(this.db, [run.id]), resultsDb.outputsOfRun(this.db, run.id)]);
    return { run, metrics: metrics.get(run.id) ?? {}, outputs: outputs.map((o) => ({ name: o.name, type: o.type, oid: o.oid, size: Number(o.size) })) };
  }

  async output(repo: Repo, runId: number, name: string): Promise<{ oid: string; size: number; type: string }> {
    const detail = await this.detail(repo, runId);
    const output = detail.outputs.find((o) => o.name === name);
    if (!output) throw notFound('output');
    return output;
  }

  private async commitOf(repo: Repo, ref: string): Promise<string> {
    const sha = await this.git.resolveCommit(repo.id, ref);
    if (!sha) throw invalid(`"${ref}" does not name a commit in ${repo.owner}/${repo.name}`);
    return sha;
  }

  /** The latest run of every job on a commit, with its summary metrics. */
  async commitMetrics(repo: Repo, ref: string) {
    return this.metricsOfCommit(repo, await this.commitOf(repo, ref));
  }

  /** commitMetrics of a full commit sha already resolved: no git call. */
  async metricsOfCommit(repo: Repo, sha: string): Promise<CommitMetrics> {
    return (await this.metricsOfCommits([{ repo, sha }])).get(commitKey(repo, sha))!;
  }

  /**
   * metricsOfCommit of many commits, of one repo or several, in two queries (the web's commit
   * list shows 50 and compares each with its parent; explore shows 20 repos); keyed by commitKey.
   */
  async metricsOfCommits(commits: readonly { repo: Repo; sha: string }[]): Promise<Map<string, CommitMetrics>> {
    const rows = await runsDb.latestRunsOfCommits(this.db, commits.map((c) => ({ repoId: c.repo.id, commitSha: c.sha })));
    const metrics = await resultsDb.metricsOfRuns(this.db, rows.map((r) => r.id));
    const out = new Map<string, CommitMetrics>(commits.map((c) => [commitKey(c.repo, c.sha), { commit: c.sha, jobs: [] }]));
    for (const row of rows) {
      const run = toRun(row);
      out.get(`${row.repo_id}:${row.commit_sha}`)?.jobs.push({ run, metrics: metrics.get(run.id) ?? {} });
    }
    return out;
  }

  /** The newest run on each repo's default branch (repos without one are absent). */
  async latestOnDefaultBranches(repos: readonly Repo[]): Promise<Map<number, Run>> {
    const rows = await runsDb.latestRunOnRefs(this.db, repos.map((r) => ({ repoId: r.id, ref: `refs/heads/${r.defaultBranch}` })));
    return new Map(rows.map((row) => [row.repo_id, toRun(row)]));
  }

  /** Per job and metric: base, head, delta, relative delta, goal, regressed (thresholds of the head's manifest). */
  async compare(repo: Repo, baseRef: string, headRef: string) {
    const [base, head] = await Promise.all([this.commitMetrics(repo, baseRef), this.commitMetrics(repo, headRef)]);
    const baseByJob = new Map(base.jobs.map((j) => [j.run.job, j]));
    const jobs: { job: string; base_run: number | null; head_run: number; metrics: MetricComparison[] }[] = [];
    for (const h of head.jobs) {
      const b = baseByJob.get(h.run.job);
      jobs.push({
        job: h.run.job,
        base_run: b?.run.id ?? null,
        head_run: h.run.id,
        metrics: compareMetrics({ base: b?.metrics ?? {}, head: h.metrics, goals: h.run.spec.goals, thresholds: h.run.spec.compare?.thresholds ?? {} }),
      });
    }
    return { base: base.commit, head: head.commit, jobs };
  }

  /** Values of one metric across the commits of a branch, oldest first (for plots). */
  async history(repo: Repo, key: string, ref: string, job: string | null) {
    if (!key || key.length > 200) throw invalid('"key" is required');
    const tip = await this.commitOf(repo, ref);
    const commits = await this.git.commits(repo.id, tip, HISTORY_COMMITS);
    const rows = await resultsDb.metricOnCommits(this.db, repo.id, key, commits.map((c) => c.sha), job);
    const latest = new Map<string, (typeof rows)[number]>();
    for (const row of rows) if (!latest.has(`${row.commit_sha} ${row.job}`)) latest.set(`${row.commit_sha} ${row.job}`, row);
    const points = [];
    for (const commit of [...commits].reverse()) {
      for (const row of latest.values()) {
        if (row.commit_sha !== commit.sha) continue;
        points.push({ commit: commit.sha, date: commit.committer.date, message: commit.message.split('\n')[0], job: row.job, run: row.run_id, value: row.value });
      }
    }
    return { key, ref, points };
  }
}
