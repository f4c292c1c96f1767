import { randomUUID } from 'node:crypto';
import type { CompleteRequest } from '../../../schema/runner-protocol.ts';
import type { Db } from '../../db/connect.ts';
import * as resultsDb from '../../db/run-results.ts';
import * as runsDb from '../../db/runs.ts';
import { compareMetrics } from '../compare.ts';
import { parseMetricsFile } from '../metrics-files.ts';
import { renderNote, type NoteRun } from '../note-format.ts';
import type { NotesWriter } from '../notes-writer.ts';
import type { GitBackend } from '../ports.ts';
import { durationMs, toRun, type Comparison, type Run, type RunEvents } from './model.ts';
import type { StoredSpec } from './plan.ts';

const BASELINE_HISTORY = 500;

interface Log {
  warn(obj: object, msg: string): void;
}

/** The model registry's part in a run's completion (set by app.ts): register, then name versions in the note. */
export interface RunRegistryHook {
  registerFromRun(run: Run): Promise<unknown>;
  versionsOfCommit(repoId: number, commitSha: string): Promise<{ model: string; version: number; run_id: number | null }[]>;
}

/**
 * What a finished run leaves behind: metric rows (parsed by the server, never trusted as
 * numbers from the runner), the baseline comparison, the git note of its commit, and the
 * events (webhooks, commit statuses).
 */
export class RunResults {
  constructor(
    private readonly db: Db,
    private readonly git: GitBackend,
    private readonly notes: () => NotesWriter,
    private readonly events: RunEvents,
    private readonly log: Log,
  ) {}

  private registry: RunRegistryHook | null = null;

  setRegistry(registry: RunRegistryHook): void {
    this.registry = registry;
  }

  started(run: Run): void {
    this.events.started(run);
  }

  /** After the run is final (its metrics, if any, are already recorded by recordMetrics). */
  async completed(run: Run): Promise<void> {
    const metrics = (await resultsDb.metricsOfRuns(this.db, [run.id])).get(run.id) ?? {};
    let current = run;
    if ((run.status === 'success' || run.status === 'cached') && run.spec.compare?.baseline) {
      const comparison = await this.compare(run, metrics);
      await runsDb.setComparison(this.db, run.id, comparison);
      current = toRun((await runsDb.findRun(this.db, run.id))!);
      if (comparison.regressed.length) this.events.regression(current, comparison);
    }
    // Before the note, so the note names the versions this run registered.
    if (this.registry && (run.status === 'success' || run.status === 'cached')) {
      await this.registry.registerFromRun(current).catch((err: unknown) => this.log.warn({ err, runId: run.id, repoId: run.repoId }, 'could not register model versions'));
    }
    try {
      await this.notes().refresh(run.repoId, run.commitSha);
    } catch (err) {
      this.log.warn({ err, runId: run.id, repoId: run.repoId, commit: run.commitSha }, 'could not write the git note');
    }
    this.events.completed(current, metrics);
  }

  /** The metrics file a successful run reported, parsed and stored as rows (or as problems). */
  async recordMetrics(run: Run, file: NonNullable<CompleteRequest['metrics']>): Promise<void> {
    const spec = run.spec.job.metrics;
    if (!spec) return;
    if ('error' in file) {
      await runsDb.setMetricProblems(this.db, run.id, [`${spec.path}: ${file.error}`]);
      return;
    }
    const parsed = parseMetricsFile(file.text, spec.format);
    await resultsDb.insertMetrics(this.db, run.id, parsed.summary, parsed.points);
    if (parsed.problems.length) await runsDb.setMetricProblems(this.db, run.id, parsed.problems.map((p) => `${spec.path}: ${p}`));
  }

  /** Against the last successful run of the same job on the baseline branch at or before the merge-base. */
  async compare(run: Run, metrics: Record<string, number>): Promise<Comparison> {
    const compare = run.spec.compare!;
    const baseline = compare.baseline!;
    const tip = await this.git.resolveCommit(run.repoId, `refs/heads/${baseline}`);
    const base = tip ? await this.git.mergeBase(run.repoId, tip, run.commitSha) : null;
    let found: { ref: string; sha: string; runId: number; metrics: Record<string, number> } | null = null;
    if (base) {
      const history = (await this.git.commits(run.repoId, base, BASELINE_HISTORY)).map((c) => c.sha).filter((sha) => sha !== run.commitSha);
      const candidates = await runsDb.successfulRunsOfJobOn(this.db, run.repoId, run.job, history);
      const order = new Map(history.map((sha, i) => [sha, i]));
      candidates.sort((a, b) => order.get(a.commit_sha)! - order.get(b.commit_sha)! || b.id - a.id);
      const chosen = candidates[0];
      if (chosen) {
        found = { ref: baseline, sha: chosen.commit_sha, runId: chosen.id, metrics: (await resultsDb.metricsOfRuns(this.db, [chosen.id])).get(chosen.id) ?? {} };
      }
    }
    const rows = compareMetrics({ base: found?.metrics ?? {}, head: metrics, goals: run.spec.goals, thresholds: compare.thresholds ?? {} });
    return {
      baseline: found && { ref: found.ref, sha: found.sha, runId: found.runId },
      metrics: rows,
      regressed: found ? rows.filter((r) => r.regressed).map((r) => r.metric) : [],
    };
  }

  /**
   * Metrics that external CI posted with a commit status are stored like a run's (a run row with
   * job `ci:<context>` and trigger `ci`), so they appear in the note, the metrics API and compare.
   */
  async recordExternal(repoId: number, commitSha: string, context: string, metrics: Record<string, number>, state: string): Promise<void> {
    const project = (await runsDb.latestRunsOfCommit(this.db, repoId, commitSha))[0]?.project ?? 'ci';
    const job = `ci:${context}`;
    const spec: StoredSpec = {
      job: { image: '', commands: [], env: {}, resources: { cpus: 0, memoryBytes: 0, pids: 0 }, timeoutSeconds: 0, network: false, outputs: [], metrics: null },
      retries: { max: 0, when: [] },
      datasets: [],
      primary: null,
      goals: {},
      compare: null,
    };
    const row = await runsDb.insertRun(this.db, {
      repo_id: repoId,
      commit_sha: commitSha,
      ref: null,
      dispatch_id: randomUUID(),
      project,
      job_id: job,
      job,
      kind: 'custom',
      trigger: 'ci',
      status: state === 'failure' || state === 'error' ? 'failed' : 'success',
      spec,
      depends_on: [],
      cache_key: null,
      cached_from: null,
      created_by: null,
      message: `reported by CI (${context}: ${state})`,
    });
    await resultsDb.insertMetrics(this.db, row.id, metrics, []);
    try {
      await this.notes().refresh(repoId, commitSha);
    } catch (err) {
      this.log.warn({ err, repoId }, 'could not write the git note');
    }
  }

  /** The note of a commit, rebuilt from Postgres (the one source of truth) by the notes writer. */
  async renderNote(repoId: number, commitSha: string): Promise<string | null> {
    const runs = (await runsDb.latestRunsOfCommit(this.db, repoId, commitSha)).map(toRun);
    if (runs.length === 0) return null;
    const metrics = await resultsDb.metricsOfRuns(this.db, runs.map((r) => r.id));
    const noteRuns: NoteRun[] = runs.map((run) => {
      const comparison = run.comparison;
      const deltas: Record<string, number> = {};
      for (const m of comparison?.metrics ?? []) if (m.delta !== null) deltas[m.metric] = m.delta;
      return {
        job: run.job,
        status: run.status,
        durationMs: durationMs(run),
        runId: run.id,
        metrics: metrics.get(run.id) ?? {},
        ...(run.spec.primary ? { primary: run.spec.primary } : {}),
        ...(comparison?.baseline ? { baseline: { ref: comparison.baseline.ref, sha: comparison.baseline.sha, deltas } } : {}),
        ...(comparison?.regressed.length ? { regressed: [...comparison.regressed] } : {}),
        ...(run.cachedFrom ? { cachedFrom: run.cachedFrom } : {}),
      };
    });
    const models = (await this.registry?.versionsOfCommit(repoId, commitSha)) ?? [];
    return renderNote({ project: runs[0]!.project, commitSha, runs: noteRuns, models: models.map((m) => ({ model: m.model, version: m.version, runId: m.run_id })) });
  }
}
