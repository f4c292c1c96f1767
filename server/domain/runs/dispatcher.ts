import { randomUUID } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { formatIssue, parseManifest, parsePushOptions, pathsMatch, refMatchesTriggers, literalPrefix, type Manifest, type Scalar } from '../../../schema/manifest.ts';
import type { Db } from '../../db/connect.ts';
import * as resultsDb from '../../db/run-results.ts';
import * as runsDb from '../../db/runs.ts';
import { invalid } from '../errors.ts';
import type { CommitReads, ManifestMemo } from '../manifest-memo.ts';
import { type RefUpdate, type Repo, ZERO_SHA } from '../model.ts';
import type { FileAtCommit, GitBackend } from '../ports.ts';
import { inputScope, isUnder, MAX_PARAMS_FILE_BYTES, paramsFilePath, type PathId } from './commit-inputs.ts';
import { toRun, type Run, type RunEvents } from './model.ts';
import type { RunAdmission } from './admission.ts';
import { resolveParams } from './params.ts';
import { countRuns, planRuns, type PlannedRun, type RunLimits } from './plan.ts';
import type { RunScheduler } from './scheduler.ts';

const MANIFEST = 'mlproject.yaml';
const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_CHANGED_PATHS = 100_000;

export interface DispatchOptions {
  readonly limits: RunLimits;
  /** A new push to a ref cancels the queued runs of older pushes to it. */
  readonly cancelSuperseded: boolean;
  /** A hand-off to the queue that failed (Redis down): logged; the periodic sweep retries it. */
  readonly onHandOffError: (err: unknown, dispatchId: string) => void;
  /** What pre-receive parsed of the same push (server/domain/manifest-memo.ts). */
  readonly manifests: ManifestMemo;
}

/** Resolves `owner/name` of a dataset repo that the run's creator may read, or null. */
export type DatasetRepoResolver = (creatorId: number | null, fullName: string) => Promise<{ id: number } | null>;

export interface ManualRunRequest {
  readonly ref?: unknown;
  readonly jobs?: unknown;
  readonly params?: unknown;
}

/** post-receive and the manual-run API: from a commit's manifest to run rows in the queue. */
export class RunDispatcher {
  constructor(
    private readonly db: Db,
    private readonly git: GitBackend,
    private readonly scheduler: RunScheduler,
    private readonly admission: RunAdmission,
    private readonly events: RunEvents,
    private readonly resolveDatasetRepo: DatasetRepoResolver,
    private readonly onCached: (run: Run) => Promise<void>,
    private readonly options: DispatchOptions,
  ) {}

  /**
   * Called once per accepted ref update (server/domain/push-outbox.ts): never throws for a bad
   * manifest (pre-receive has shown its errors). `dispatchIdOf` names each update's runs, so a
   * retry after a crash can tell they exist.
   */
  async dispatchPush(
    repo: Repo,
    pusherId: number | null,
    updates: readonly RefUpdate[],
    pushOptions: readonly string[],
    dispatchIdOf: (update: RefUpdate) => string,
  ): Promise<Run[]> {
    if (parsePushOptions([...pushOptions]).ciSkip) return [];
    const created: Run[] = [];
    for (const update of updates) {
      if (update.newSha === ZERO_SHA) continue;
      const isTag = update.ref.startsWith('refs/tags/');
      if (!isTag && !update.ref.startsWith('refs/heads/')) continue;
      const reads = await this.readCommit(repo, update.newSha);
      const manifest = reads.manifest;
      if (!manifest) continue;
      const triggered = refMatchesTriggers(manifest, update.ref, repo.defaultBranch);
      if (!triggered.push) continue;
      const pathFilter = isTag ? undefined : manifest.triggers?.push;
      if (pathFilter && (pathFilter.paths || pathFilter.paths_ignore)) {
        const from = update.oldSha === ZERO_SHA ? null : update.oldSha;
        const changed = await this.git.changedPaths(repo.id, from, update.newSha, MAX_CHANGED_PATHS);
        if (!pathsMatch(pathFilter, changed)) continue;
      }
      const dispatchId = dispatchIdOf(update);
      const runs = await this.createRuns(repo, { ...reads, manifest }, {
        commitSha: update.newSha,
        ref: update.ref,
        trigger: isTag ? 'tag' : 'push',
        jobs: triggered.jobs,
        overrides: {},
        creatorId: pusherId,
        dispatchId,
        strictParams: false,
      });
      created.push(...runs);
    }
    return created;
  }

  /**
   * The queued runs of older pushes to the ref are cancelled (MLGIT_RUN_CANCEL_SUPERSEDED), once a
   * push's runs exist: a follow-up of the push (the push outbox runs it after the pusher has been
   * answered, and again after a crash, maybe after newer pushes). Only runs made before the
   * push's first run go: never a newer push's.
   */
  async supersede(repoId: number, update: RefUpdate, firstRunId: number): Promise<void> {
    if (this.options.cancelSuperseded) await this.cancelSuperseded(repoId, update.ref, firstRunId, update.newSha);
  }

  /** POST .../runs: a manual run of a ref, with param overrides checked against the schema (422 on problems). */
  async dispatchManual(repo: Repo, creatorId: number, request: ManualRunRequest): Promise<Run[]> {
    const ref = request.ref === undefined ? repo.defaultBranch : request.ref;
    if (typeof ref !== 'string' || ref.length === 0 || ref.length > 1024) throw invalid('"ref" must be a branch, tag or commit');
    const jobs = request.jobs;
    if (jobs !== undefined && (!Array.isArray(jobs) || jobs.some((j) => typeof j !== 'string') || jobs.length > 100)) {
      throw invalid('"jobs" must be a list of job ids');
    }
    const params = request.params ?? {};
    if (typeof params !== 'object' || params === null || Array.isArray(params)) throw invalid('"params" must be an object of param values');
    const commitSha = await this.git.resolveCommit(repo.id, ref);
    if (!commitSha) throw invalid(`ref "${ref}" does not name a commit in ${repo.owner}/${repo.name}`);
    const text = await this.readManifestText(repo, commitSha);
    if (text === null) throw invalid(`${MANIFEST} is missing at ${ref}`);
    const parsed = parseManifest(text);
    if (!parsed.manifest) throw invalid(`${MANIFEST} at ${ref} is invalid:\n${parsed.errors.map((e) => formatIssue(e)).join('\n')}`);
    const manifest = parsed.manifest;
    const allowed = manifest.triggers?.manual?.jobs ?? Object.keys(manifest.jobs);
    const wanted = (jobs as string[] | undefined) ?? allowed;
    const unknown = wanted.filter((j) => !manifest.jobs[j]);
    if (unknown.length) throw invalid(`unknown job(s): ${unknown.join(', ')}; the manifest has ${Object.keys(manifest.jobs).join(', ')}`);
    const notManual = wanted.filter((j) => !allowed.includes(j));
    if (notManual.length) throw invalid(`job(s) ${notManual.join(', ')} may not be started manually (triggers.manual.jobs)`);
    await this.admission.admit(repo, countRuns(manifest, wanted));
    const fullRef = ref.startsWith('refs/') ? ref : (await this.git.refs(repo.id)).find((r) => r.name === `refs/heads/${ref}` || r.name === `refs/tags/${ref}`)?.name ?? null;
    return this.createRuns(repo, { manifest }, {
      commitSha,
      ref: fullRef,
      trigger: 'manual',
      jobs: wanted,
      overrides: params as Record<string, unknown>,
      creatorId,
      dispatchId: randomUUID(),
      strictParams: true,
    });
  }

  private async readManifestText(repo: Repo, commitSha: string): Promise<string | null> {
    const file = await this.git.readFileAt(repo.id, commitSha, MANIFEST, MAX_MANIFEST_BYTES, {});
    return file.kind === 'file' && file.content ? file.content.toString('utf8') : null;
  }

  /** What pre-receive read of the pushed commit (ManifestMemo), else its manifest read from git. */
  private async readCommit(repo: Repo, commitSha: string): Promise<CommitReads> {
    const remembered = this.options.manifests.recall(repo.id, commitSha);
    if (remembered !== undefined) return remembered;
    const text = await this.readManifestText(repo, commitSha);
    return { manifest: text === null ? null : parseManifest(text).manifest };
  }

  /** `known`: what was read of the commit already; the rest is read from git. */
  private async createRuns(
    repo: Repo,
    known: CommitReads & { manifest: Manifest },
    c: {
      commitSha: string;
      ref: string | null;
      trigger: string;
      jobs: readonly string[] | null;
      overrides: Record<string, unknown>;
      creatorId: number | null;
      dispatchId: string;
      strictParams: boolean;
    },
  ): Promise<Run[]> {
    const { manifest } = known;
    // Two independent reads of the commit (a git process each, unless pre-receive read them): side by side, on the pusher's clock.
    const [paramsValues, inputIds] = await Promise.all([this.paramsFile(repo, manifest, c.commitSha, known.paramsFile), this.inputIdsAt(repo.id, c.commitSha, manifest, known.inputs)]);
    const layers = [{ source: 'params file', values: paramsValues }];
    if (Object.keys(c.overrides).length) layers.push({ source: 'request', values: c.overrides });
    const params = resolveParams(manifest.params?.schema, layers);
    if (params.problems.length && c.strictParams) throw invalid(`invalid params: ${params.problems.join('; ')}`);

    const remoteDatasets: Record<string, { repoId: number; repo: string; commit: string }> = {};
    const datasetProblems: string[] = [];
    for (const [name, dataset] of Object.entries(manifest.datasets ?? {})) {
      if (!dataset.repo) continue;
      const target = await this.resolveDatasetRepo(c.creatorId, dataset.repo);
      const commit = target ? await this.git.resolveCommit(target.id, dataset.ref ?? 'HEAD') : null;
      if (!target || !commit) datasetProblems.push(`dataset "${name}": ${dataset.repo}@${dataset.ref ?? 'HEAD'} is not readable or does not exist`);
      else remoteDatasets[name] = { repoId: target.id, repo: dataset.repo, commit };
    }
    if (datasetProblems.length && c.strictParams) throw invalid(datasetProblems.join('; '));

    let planned: PlannedRun[];
    try {
      planned = planRuns(manifest, {
        commitSha: c.commitSha,
        ref: c.ref,
        selectedJobs: c.jobs,
        params: params.values,
        inputIds,
        remoteDatasets,
        limits: this.options.limits,
      });
    } catch (err) {
      if (c.strictParams) throw invalid((err as Error).message);
      return [];
    }
    const problems = [...params.problems, ...datasetProblems];
    const runIdsByJob = new Map<string, number[]>();
    const created: Run[] = [];
    for (const plan of planned) {
      const dependsOn = plan.dependsOnJobs.flatMap((j) => runIdsByJob.get(j) ?? []);
      const hit = plan.cacheKey && !problems.length ? await runsDb.successfulRunByCacheKey(this.db, repo.id, plan.cacheKey) : undefined;
      const row = await runsDb.insertRun(this.db, {
        repo_id: repo.id,
        commit_sha: c.commitSha,
        ref: c.ref,
        dispatch_id: c.dispatchId,
        project: manifest.name,
        job_id: plan.jobId,
        job: plan.job,
        kind: plan.kind,
        trigger: c.trigger,
        status: problems.length ? 'error' : hit ? 'cached' : 'queued',
        spec: plan.spec,
        depends_on: dependsOn,
        cache_key: plan.cacheKey,
        cached_from: hit ? (hit.cached_from ?? hit.id) : null,
        created_by: c.creatorId,
        message: problems.length ? problems.join('; ') : hit ? `cache hit: reuses run ${hit.cached_from ?? hit.id}` : null,
      });
      if (hit) await resultsDb.copyResults(this.db, hit.id, row.id);
      runIdsByJob.set(plan.jobId, [...(runIdsByJob.get(plan.jobId) ?? []), row.id]);
      const run = toRun(row);
      created.push(run);
      if (run.status === 'queued') this.events.queued(run);
    }
    for (const run of created) if (run.status !== 'queued') await this.onCached(run);
    // The runs exist as queued rows now. Handing them to the queue must not hold the push's
    // answer while Redis is down: it goes on in the background, and should it fail, the periodic
    // sweep tops the queue up again from the rows.
    this.scheduler.enqueueReady(c.dispatchId).catch((err: unknown) => this.options.onHandOffError(err, c.dispatchId));
    return created;
  }

  /** Committed param values (params.file, or params.yaml when present); a bad file counts as none. */
  private async paramsFile(repo: Repo, manifest: Manifest, commitSha: string, read?: FileAtCommit): Promise<Record<string, unknown>> {
    const file = read ?? (await this.git.readFileAt(repo.id, commitSha, paramsFilePath(manifest), MAX_PARAMS_FILE_BYTES, {}));
    if (file.kind !== 'file' || !file.content) return {};
    try {
      const values: unknown = parseYaml(file.content.toString('utf8'), { maxAliasCount: 10 });
      return values && typeof values === 'object' && !Array.isArray(values) ? (values as Record<string, Scalar>) : {};
    } catch {
      return {};
    }
  }

  /** One ls-tree for every input and in-repo dataset path of the manifest (unless pre-receive listed them); globs filtered here. */
  private async inputIdsAt(
    repoId: number,
    commitSha: string,
    manifest: Manifest,
    read?: CommitReads['inputs'],
  ): Promise<(patterns: readonly string[] | undefined) => Record<string, string>> {
    const { prefixes, wholeTree } = inputScope(manifest);
    const [entries, [root]]: [readonly PathId[], readonly PathId[]] = read
      ? [read.entries, [{ path: '', sha: read.rootTree }]]
      : await Promise.all([this.git.pathIds(repoId, commitSha, prefixes), wholeTree ? this.git.pathIds(repoId, commitSha, ['']) : []]);
    return (wanted) => {
      // No `inputs`: any file may matter, so the whole tree is the input.
      if (!wanted || wanted.length === 0 || wanted.some((p) => literalPrefix(p) === '')) return { '': root?.sha ?? '' };
      const out: Record<string, string> = {};
      for (const pattern of wanted) {
        const prefix = literalPrefix(pattern);
        const isGlob = prefix !== pattern.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
        for (const e of entries) {
          if (isUnder(e.path, prefix) && (!isGlob || pathsMatch({ paths: [pattern] }, [e.path]))) out[e.path] = e.sha;
        }
        if (!Object.keys(out).some((p) => isUnder(p, prefix))) out[pattern] = 'missing';
      }
      return out;
    };
  }

  private async cancelSuperseded(repoId: number, ref: string, firstRunId: number, newSha: string): Promise<void> {
    const older = await runsDb.queuedRunsOfRef(this.db, repoId, ref, firstRunId);
    const cancelled = await runsDb.cancelQueued(this.db, older.map((r) => r.id), `superseded by a push of ${newSha.slice(0, 7)}`);
    for (const row of cancelled) this.events.completed(toRun(row), {});
    // Their dependents end too, saying which dependency was cancelled.
    for (const dispatch of new Set(cancelled.map((r) => r.dispatch_id))) await this.scheduler.enqueueReady(dispatch);
  }
}
