import type { FastifyInstance } from 'fastify';
import { notFound } from '../domain/errors.ts';
import type { Repo } from '../domain/model.ts';
import type { GitCommit } from '../domain/ports.ts';
import type { Run } from '../domain/runs/model.ts';
import { commitKey, type CommitMetrics } from '../domain/runs/queries.ts';
import type { Web } from './context.ts';
import type { CachedGitReads } from './git-reads.ts';
import { commitOf } from './repo-content.ts';
import { headerFor, readableRepo, type RepoParams } from './repo-pages.ts';
import { commitPage, type CommitMetricsJob } from './views/commit.ts';
import { headlineOf } from './headline.ts';
import { commitsPage, type CommitRow, type CommitState } from './views/commits.ts';

const PER_PAGE = 50;
/** Text diffs of a commit page stop here (stats of every file are still shown). */
export const DIFF_CAP_BYTES = 512 * 1024;
const MAX_NOTE_BYTES = 64 * 1024;
const MAX_RUNS = 100;
const SHA = /^[0-9a-f]{40}$/;

/** The mark of a commit: failed beats running beats queued; success only when every latest run satisfied. */
export function combinedState(runs: readonly Pick<Run, 'status'>[]): CommitState {
  if (runs.length === 0) return 'none';
  const has = (...s: string[]) => runs.some((r) => s.includes(r.status));
  if (has('failed', 'error', 'timed_out')) return 'failed';
  if (has('running')) return 'running';
  if (has('queued')) return 'queued';
  if (runs.every((r) => r.status === 'success' || r.status === 'cached')) return 'success';
  return 'cancelled';
}

/** The history of a branch with a run mark and headline metric per commit, and one commit's page. */
export function registerCommitRoutes(app: FastifyInstance, web: Web, gitReads: CachedGitReads): void {
  const { git, runs } = web.deps;

  app.get<{ Params: RepoParams & { ref: string }; Querystring: { after?: string } }>('/:owner/:repo/commits/:ref', async (request, reply) => {
    const repo = await readableRepo(web, request);
    if (!repo) return reply.callNotFound();
    const { ref } = request.params;
    const after = request.query.after;
    let list: GitCommit[];
    if (after !== undefined) {
      if (!SHA.test(after)) throw notFound(`commit "${after}"`);
      // The page after a commit: its history without itself (one more to know whether there is a next page).
      list = (await gitReads.commits(repo, after, PER_PAGE + 2)).slice(1);
    } else {
      list = await gitReads.commits(repo, await commitOf(git, repo, ref), PER_PAGE + 1);
    }
    const shown = list.slice(0, PER_PAGE);
    const next = list.length > PER_PAGE ? shown.at(-1)!.sha : null;
    const metrics = await metricsOf(repo, shown);
    const rows: CommitRow[] = shown.map((commit) => {
      const own = metrics.get(commit.sha)!;
      const parent = commit.parents[0] ? (metrics.get(commit.parents[0]) ?? null) : null;
      return {
        commit,
        state: combinedState(own.jobs.map((j) => j.run)),
        detail: own.jobs.map((j) => `${j.run.job}: ${j.run.status}`).join(', '),
        headline: headlineOf(own, parent),
      };
    });
    const page = commitsPage({ header: await headerFor(web, request, reply, repo, 'commits'), ref, rows, next, paged: after !== undefined });
    return web.page(request, reply, `Commits · ${repo.owner}/${repo.name} at ${ref}`, page);
  });

  /** Latest runs and metrics of each commit shown and of the first parents they are compared with. */
  async function metricsOf(repo: Repo, commits: readonly GitCommit[]): Promise<Map<string, CommitMetrics>> {
    const shas = new Set(commits.map((c) => c.sha));
    for (const c of commits) if (c.parents[0]) shas.add(c.parents[0]);
    // Shas from git log: no need to resolve them again.
    const found = await runs.metricsOfCommits([...shas].map((sha) => ({ repo, sha })));
    return new Map([...shas].map((sha) => [sha, found.get(commitKey(repo, sha))!]));
  }

  app.get<{ Params: RepoParams & { sha: string } }>('/:owner/:repo/commit/:sha', async (request, reply) => {
    const repo = await readableRepo(web, request);
    if (!repo) return reply.callNotFound();
    const sha = await commitOf(git, repo, request.params.sha);
    const [commit] = await gitReads.commits(repo, sha, 1);
    if (!commit) throw notFound(`commit "${request.params.sha}"`);
    const parent = commit.parents[0] ?? null;
    const [diff, jobs, triggered, note] = await Promise.all([
      gitReads.diff(repo, parent, sha, DIFF_CAP_BYTES),
      againstBaselines(repo, sha, parent),
      runs.list(repo, { commit: sha }, MAX_RUNS, 0),
      gitReads.note(repo, sha, MAX_NOTE_BYTES),
    ]);
    const page = commitPage({ header: await headerFor(web, request, reply, repo, 'commits'), commit, diff, diffCapBytes: DIFF_CAP_BYTES, jobs, runs: triggered.runs, note });
    return web.page(request, reply, `${commit.message.split('\n')[0]} · ${repo.owner}/${repo.name}@${sha.slice(0, 8)}`, page);
  });

  /**
   * Each job's metrics against its baseline: the commit the run's stored comparison names (the
   * manifest's `compare.baseline`), else the first parent; the same comparison as GET .../metrics/compare.
   */
  async function againstBaselines(repo: Repo, sha: string, parent: string | null): Promise<CommitMetricsJob[]> {
    const own = await runs.metricsOfCommit(repo, sha);
    const baselineOf = (run: Run) =>
      run.comparison?.baseline ? { sha: run.comparison.baseline.sha, label: `baseline ${run.comparison.baseline.ref}` } : parent ? { sha: parent, label: 'parent' } : null;
    const distinct = new Map<string, Awaited<ReturnType<typeof runs.compare>>>();
    for (const { run } of own.jobs) {
      const base = baselineOf(run);
      if (base && !distinct.has(base.sha)) distinct.set(base.sha, await runs.compare(repo, base.sha, sha));
    }
    const jobs: CommitMetricsJob[] = [];
    for (const { run, metrics } of [...own.jobs].sort((a, b) => a.run.job.localeCompare(b.run.job))) {
      const base = baselineOf(run);
      const compared = base ? distinct.get(base.sha)!.jobs.find((j) => j.job === run.job) : undefined;
      const rows = compared?.metrics ?? Object.entries(metrics).map(([metric, value]) => ({ metric, base: null, head: value, delta: null, relative: null, goal: null, regressed: false }));
      if (rows.length === 0) continue;
      jobs.push({ job: run.job, run: run.id, baseline: base, baseRun: compared?.base_run ?? null, metrics: rows });
    }
    return jobs;
  }
}
