// Model versions (issue 11, "Registry"): registered from a successful run of the job a model
// comes `from` (automatically when the run completes, or on demand), numbered 1, 2, 3 per model,
// immutable, recorded as a row and as the ref refs/models/<model>/v<n> at the run's commit.
import type { ModelSpec } from '../../../schema/manifest.ts';
import type { Db } from '../../db/connect.ts';
import * as registryDb from '../../db/registry.ts';
import * as resultsDb from '../../db/run-results.ts';
import * as runsDb from '../../db/runs.ts';
import { isUniqueViolation } from '../sql-errors.ts';
import { compareMetrics } from '../compare.ts';
import { invalid, notFound } from '../errors.ts';
import type { Repo } from '../model.ts';
import type { GitBackend, ObjectStore } from '../ports.ts';
import { paramsOf, SATISFYING, toRun, type Run } from '../runs/model.ts';
import { inspectModel } from './formats/inspect.ts';
import { manifestAt } from './manifest-models.ts';
import { toVersion, type ModelVersion, type RegistryEvents } from './model.ts';
import type { ModelRefs } from './model-refs.ts';
import { LATEST, modelName, versionRef } from './names.ts';

const INSERT_ATTEMPTS = 10;

interface Log {
  warn(obj: object, msg: string): void;
}

export class ModelVersions {
  constructor(
    private readonly db: Db,
    private readonly git: GitBackend,
    private readonly store: ObjectStore,
    private readonly refs: ModelRefs,
    private readonly events: RegistryEvents,
    private readonly log: Log,
  ) {}

  /**
   * After a run succeeded: a version of every model its commit's manifest says comes from its
   * job (unless the model says `register: manual`). A model whose output the run did not upload is logged and skipped (the run itself
   * succeeded; the registry cannot invent the file).
   */
  async registerFromRun(run: Run): Promise<ModelVersion[]> {
    if (!SATISFYING.includes(run.status)) return [];
    const manifest = await manifestAt(this.git, run.repoId, run.commitSha);
    const registered: ModelVersion[] = [];
    for (const [name, spec] of Object.entries(manifest?.models ?? {})) {
      if (spec.from !== run.jobId || spec.register === 'manual') continue;
      try {
        registered.push((await this.register(run, name, spec, run.createdBy)).version);
      } catch (err) {
        this.log.warn({ err, runId: run.id, model: name }, 'could not register a model version from the run');
      }
    }
    return registered;
  }

  /** `POST .../models/:model/versions {run_id}`: the same registration, asked for by a writer. */
  async registerManual(repo: Repo, rawModel: string, runIdField: unknown, actorId: number): Promise<{ version: ModelVersion; created: boolean }> {
    const model = modelName(rawModel);
    if (typeof runIdField !== 'number' || !Number.isSafeInteger(runIdField) || runIdField < 1) throw invalid('run_id must be a positive whole number');
    const row = await runsDb.findRun(this.db, runIdField);
    if (!row || row.repo_id !== repo.id) throw notFound('run');
    const run = toRun(row);
    if (!SATISFYING.includes(run.status)) throw invalid(`run ${run.id} is ${run.status}; only a successful (or cached) run can be registered`);
    const spec = (await manifestAt(this.git, repo.id, run.commitSha))?.models?.[model];
    if (!spec) throw invalid(`model "${model}" is not declared under models: in mlproject.yaml at ${run.commitSha.slice(0, 7)}`);
    if (spec.from !== run.jobId) throw invalid(`model "${model}" comes from job "${spec.from}", but run ${run.id} is job "${run.jobId}"`);
    return this.register(run, model, spec, actorId);
  }

  private async register(run: Run, model: string, spec: ModelSpec, actorId: number | null): Promise<{ version: ModelVersion; created: boolean }> {
    const existing = await registryDb.findVersionOfRun(this.db, run.repoId, model, run.id);
    if (existing) return { version: toVersion(existing), created: false };
    const [outputs, metrics] = await Promise.all([resultsDb.outputsOfRun(this.db, run.id), resultsDb.metricsOfRuns(this.db, [run.id])]);
    const output = outputs.find((o) => o.name === spec.path);
    if (!output) throw invalid(`run ${run.id} has no output "${spec.path}" (models.${model}.path)`);
    if (output.type === 'dir') throw invalid(`output "${spec.path}" of run ${run.id} is a directory; a model version is one file`);
    const format = spec.format ?? 'other';
    const inspection = await inspectModel(this.store, { oid: output.oid, size: Number(output.size), format, path: spec.path });
    const values: registryDb.NewModelVersion = {
      repo_id: run.repoId,
      model,
      run_id: run.id,
      job: run.job,
      commit_sha: run.commitSha,
      path: spec.path,
      format,
      oid: output.oid,
      size: Number(output.size),
      params: JSON.stringify(Object.fromEntries(paramsOf(run))),
      metrics: JSON.stringify(metrics.get(run.id) ?? {}),
      goals: JSON.stringify(run.spec.goals),
      datasets: JSON.stringify(run.spec.datasets.map((d) => ({ name: d.name, repo: d.repo, commit: d.commit }))),
      created_by: actorId,
      inspection: JSON.stringify(inspection),
    };
    const row = await this.insert(values, run.id);
    if (!row.created) return { version: toVersion(row.row), created: false };
    const version = toVersion(row.row);
    try {
      await this.refs.createVersionRef(run.repoId, versionRef(model, version.version), run.commitSha);
    } catch (err) {
      this.log.warn({ err, model, version: version.version }, 'could not create the version ref');
    }
    await this.events.versionCreated(version, actorId);
    return { version, created: true };
  }

  /** Next number, retried when another registration took it; a second registration of the run finds the first. */
  private async insert(values: registryDb.NewModelVersion, runId: number): Promise<{ row: registryDb.ModelVersionRow; created: boolean }> {
    for (let attempt = 0; attempt < INSERT_ATTEMPTS; attempt += 1) {
      try {
        return { row: await registryDb.insertNextVersion(this.db, values), created: true };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        const same = await registryDb.findVersionOfRun(this.db, values.repo_id, values.model, runId);
        if (same) return { row: same, created: false };
      }
    }
    throw new Error(`model ${values.model}: version numbers kept being taken; gave up after ${INSERT_ATTEMPTS} attempts`);
  }

  async models(repo: Repo) {
    return (await registryDb.listModels(this.db, repo.id)).map((m) => ({ model: m.model, latest: Number(m.latest), versions: Number(m.versions) }));
  }

  async list(repo: Repo, rawModel: string, limit: number, offset: number): Promise<{ versions: ModelVersion[]; total: number }> {
    const { rows, total } = await registryDb.listVersions(this.db, repo.id, modelName(rawModel), limit, offset);
    return { versions: rows.map(toVersion), total };
  }

  async get(repo: Repo, rawModel: string, version: number): Promise<ModelVersion> {
    const row = await registryDb.findVersion(this.db, repo.id, modelName(rawModel), version);
    if (!row) throw notFound('model version');
    return toVersion(row);
  }

  /** The version an alias names now (`latest`: the newest). */
  async byAlias(repo: Repo, rawModel: string, alias: string): Promise<ModelVersion> {
    const model = modelName(rawModel);
    if (alias === LATEST) {
      const row = await registryDb.latestVersion(this.db, repo.id, model);
      if (!row) throw notFound('model');
      return toVersion(row);
    }
    const pointer = await registryDb.findAlias(this.db, repo.id, model, alias);
    if (!pointer) throw notFound('alias');
    return this.get(repo, model, pointer.version);
  }

  /** version -> run -> commit -> params, datasets, metrics, and the change against the previous version. */
  async lineage(repo: Repo, rawModel: string, number: number) {
    const version = await this.get(repo, rawModel, number);
    const [runRow, commits, previousRow] = await Promise.all([
      version.runId === null ? undefined : runsDb.findRun(this.db, version.runId),
      this.git.commits(repo.id, version.commitSha, 1),
      registryDb.previousVersion(this.db, repo.id, version.model, version.version),
    ]);
    const run = runRow ? toRun(runRow) : null;
    const commit = commits[0] ?? null;
    const previous = previousRow ? toVersion(previousRow) : null;
    return {
      version,
      run: run && { id: run.id, job: run.job, status: run.status, trigger: run.trigger, startedAt: run.startedAt, finishedAt: run.finishedAt, comparison: run.comparison },
      commit: commit && { sha: commit.sha, message: commit.message, author: commit.author, committer: commit.committer },
      previous: previous && {
        version: previous.version,
        commitSha: previous.commitSha,
        metrics: compareMetrics({ base: { ...previous.metrics }, head: { ...version.metrics }, goals: { ...version.goals }, thresholds: {} }),
      },
    };
  }

  /** For the commit's note: which versions its runs registered. */
  versionsOfCommit(repoId: number, commitSha: string) {
    return registryDb.versionsOfCommit(this.db, repoId, commitSha);
  }
}

