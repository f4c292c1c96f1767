// Turns a manifest and a commit into the runs to create: which jobs (selection plus what they
// depend on), their matrix expansions, the interpolated job specs, and cache keys
// (../shared/design/mlproject.md, "Cache key of a job"). Pure: git lookups arrive as data.
import { createHash } from 'node:crypto';
import { durationSeconds, expandMatrix, interpolate, matrixSize, quantityBytes, type Job, type Manifest, type Scalar } from '../../../schema/manifest.ts';
import type { JobSpec } from '../../../schema/runner-protocol.ts';

export type RetryWhen = 'infra_error' | 'timeout' | 'oom' | 'any';

/** What the runs table keeps per run: the runner's spec plus what the server needs at completion. */
export interface StoredSpec {
  readonly job: JobSpec;
  readonly retries: { readonly max: number; readonly when: readonly RetryWhen[] };
  readonly datasets: readonly { readonly name: string; readonly repoId: number; readonly repo: string; readonly commit: string }[];
  readonly primary: string | null;
  readonly goals: Readonly<Record<string, 'maximize' | 'minimize'>>;
  readonly compare: Manifest['compare'] | null;
  /**
   * The params the job used, named as the manifest names them (the MLP_PARAM_* variables are
   * upper-cased and have other characters replaced). Absent in runs planned before it was kept.
   */
  readonly params?: Readonly<Record<string, Scalar>>;
}

export interface RunLimits {
  readonly defaultTimeoutSeconds: number;
  readonly maxTimeoutSeconds: number;
  readonly defaultMemoryBytes: number;
  readonly maxMemoryBytes: number;
  readonly maxCpus: number;
  readonly pids: number;
  readonly maxMatrixExpansions: number;
}

export interface PlanContext {
  readonly commitSha: string;
  readonly ref: string | null;
  /** Jobs asked for (trigger or request); null = every job. Their dependencies are added. */
  readonly selectedJobs: readonly string[] | null;
  readonly params: Readonly<Record<string, Scalar>>;
  /** Git object ids of a job's `inputs` at the commit (path -> id); no file reads. */
  readonly inputIds: (patterns: readonly string[] | undefined) => Readonly<Record<string, string>>;
  /** Datasets from other repos, resolved to a commit; in-repo datasets are identified by their tree id. */
  readonly remoteDatasets: Readonly<Record<string, { repoId: number; repo: string; commit: string }>>;
  readonly limits: RunLimits;
}

export interface PlannedRun {
  readonly jobId: string;
  /** `train` or `train[lr=0.1]`. */
  readonly job: string;
  readonly kind: string;
  readonly spec: StoredSpec;
  readonly dependsOnJobs: readonly string[];
  readonly cacheKey: string | null;
}

const ALL_RETRY: readonly RetryWhen[] = [];

export function planRuns(manifest: Manifest, ctx: PlanContext): PlannedRun[] {
  const order = topologicalOrder(manifest, withDependencies(manifest, ctx.selectedJobs ?? Object.keys(manifest.jobs)));
  const keysByJob = new Map<string, (string | null)[]>();
  const planned: PlannedRun[] = [];
  for (const jobId of order) {
    const job = manifest.jobs[jobId]!;
    const depends = job.depends_on ?? [];
    const depKeys = depends.flatMap((d) => keysByJob.get(d) ?? [null]);
    const keys: (string | null)[] = [];
    for (const expansion of expandMatrix(jobId, job, ctx.limits.maxMatrixExpansions)) {
      const spec = jobSpec(manifest, job, expansion.name, expansion.values, ctx);
      const cacheable = (job.cache ?? manifest.cache ?? true) && depKeys.every((k) => k !== null);
      const cacheKey = cacheable ? cacheKeyOf(manifest, job, spec, ctx, depKeys as string[]) : null;
      keys.push(cacheKey);
      planned.push({ jobId, job: expansion.name, kind: job.kind, spec, dependsOnJobs: depends, cacheKey });
    }
    keysByJob.set(jobId, keys);
  }
  return planned;
}

/**
 * How many runs planRuns would create for this selection, without expanding anything: what
 * pre-receive and the manual-run API hold against MLGIT_RUN_MAX_PER_PUSH.
 */
export function countRuns(manifest: Manifest, selectedJobs: readonly string[] | null): number {
  let count = 0;
  for (const jobId of withDependencies(manifest, selectedJobs ?? Object.keys(manifest.jobs))) count += matrixSize(manifest.jobs[jobId]!.matrix);
  return count;
}

/** The selection plus, transitively, every job it depends on (outputs flow along depends_on). */
function withDependencies(manifest: Manifest, selected: readonly string[]): Set<string> {
  const out = new Set<string>();
  const visit = (id: string) => {
    if (out.has(id) || !manifest.jobs[id]) return;
    out.add(id);
    for (const dep of manifest.jobs[id]!.depends_on ?? []) visit(dep);
  };
  selected.forEach(visit);
  return out;
}

/** Dependencies first; the parser has already rejected cycles. */
function topologicalOrder(manifest: Manifest, ids: Set<string>): string[] {
  const order: string[] = [];
  const done = new Set<string>();
  const visit = (id: string) => {
    if (done.has(id)) return;
    done.add(id);
    for (const dep of manifest.jobs[id]?.depends_on ?? []) if (ids.has(dep)) visit(dep);
    order.push(id);
  };
  [...ids].sort().forEach(visit);
  return order;
}

function usedParams(manifest: Manifest, job: Job): string[] {
  return (job.params ?? Object.keys(manifest.params?.schema ?? {})).slice().sort();
}

function usedDatasets(manifest: Manifest, job: Job): string[] {
  return (job.datasets ?? Object.keys(manifest.datasets ?? {})).slice().sort();
}

function datasetPath(manifest: Manifest, name: string): string {
  const dataset = manifest.datasets![name]!;
  return dataset.repo ? `.mlgit/datasets/${name}/${dataset.path}` : dataset.path;
}

function envName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

function jobSpec(manifest: Manifest, job: Job, name: string, matrix: Record<string, Scalar>, ctx: PlanContext): StoredSpec {
  const values: Record<string, string> = {
    'commit.sha': ctx.commitSha,
    'commit.short': ctx.commitSha.slice(0, 7),
    ref: ctx.ref ?? '',
    'job.name': name,
  };
  const env: Record<string, string> = { ...manifest.env, ...job.env };
  const params: Record<string, Scalar> = {};
  for (const param of usedParams(manifest, job)) {
    const value = ctx.params[param];
    if (value === undefined) continue;
    params[param] = value;
    values[`params.${param}`] = String(value);
    env[`MLP_PARAM_${envName(param)}`] = String(value);
  }
  for (const dataset of usedDatasets(manifest, job)) {
    values[`datasets.${dataset}.path`] = datasetPath(manifest, dataset);
    env[`MLP_DATASET_${envName(dataset)}`] = datasetPath(manifest, dataset);
  }
  for (const [key, value] of Object.entries(matrix)) values[`matrix.${key}`] = String(value);
  env.MLP_COMMIT = ctx.commitSha;
  env.MLP_REF = ctx.ref ?? '';
  if (job.metrics) env.MLP_METRICS_PATH = job.metrics.path;

  // The run id exists only once the row does, and must not enter the cache key: like
  // outputs_dir it becomes a shell expansion of the variable the runner sets.
  const commands = (Array.isArray(job.command) ? job.command : [job.command]).map((c) =>
    interpolate(c.replace(/\$\{\{\s*run\.id\s*\}\}/g, '"$MLP_RUN_ID"'), values),
  );
  const resources = { ...manifest.resources, ...job.resources };
  const memory = resources.memory ? (quantityBytes(resources.memory) ?? ctx.limits.defaultMemoryBytes) : ctx.limits.defaultMemoryBytes;
  const timeout = job.timeout ? (durationSeconds(job.timeout) ?? ctx.limits.defaultTimeoutSeconds) : ctx.limits.defaultTimeoutSeconds;
  const remote = usedDatasets(manifest, job).flatMap((d) => {
    const resolved = ctx.remoteDatasets[d];
    return resolved ? [{ name: d, ...resolved }] : [];
  });
  return {
    job: {
      image: job.image ?? manifest.image ?? '',
      commands,
      env,
      resources: {
        cpus: Math.min(resources.cpu ?? 1, ctx.limits.maxCpus),
        memoryBytes: Math.min(memory, ctx.limits.maxMemoryBytes),
        pids: ctx.limits.pids,
        // Only when asked for: specs (and cache keys) of jobs without GPUs stay as they were.
        ...(resources.gpu ? { gpus: resources.gpu } : {}),
      },
      timeoutSeconds: Math.min(Math.max(timeout, 1), ctx.limits.maxTimeoutSeconds),
      network: false,
      outputs: (job.outputs ?? []).map((o) => ({ path: o.path, type: o.type ?? 'artifact' })),
      metrics: job.metrics ? { path: job.metrics.path, format: job.metrics.format ?? formatFromPath(job.metrics.path) } : null,
    },
    retries: { max: job.retries?.max ?? 0, when: job.retries?.when ?? ALL_RETRY },
    datasets: remote,
    primary: job.metrics?.primary ?? null,
    goals: job.metrics?.goals ?? {},
    compare: manifest.compare ?? null,
    params,
  };
}

function formatFromPath(p: string): 'json' | 'yaml' | 'jsonl' | 'csv' {
  if (/\.ya?ml$/i.test(p)) return 'yaml';
  if (/\.jsonl$/i.test(p)) return 'jsonl';
  if (/\.csv$/i.test(p)) return 'csv';
  return 'json';
}

function cacheKeyOf(manifest: Manifest, job: Job, spec: StoredSpec, ctx: PlanContext, depKeys: string[]): string {
  const params = Object.fromEntries(usedParams(manifest, job).map((p) => [p, ctx.params[p] ?? null]));
  const datasets = Object.fromEntries(
    usedDatasets(manifest, job).map((d) => {
      const remote = ctx.remoteDatasets[d];
      // A dataset in this repository is every file under its path (a directory's files, not its own name).
      return [d, remote ? `${remote.repo}@${remote.commit}:${manifest.datasets![d]!.path}` : ctx.inputIds([manifest.datasets![d]!.path])];
    }),
  );
  // The commit itself is not an input: MLP_COMMIT/MLP_REF differ on every push while the work is the same.
  const { MLP_COMMIT: _commit, MLP_REF: _ref, ...env } = spec.job.env;
  const material = { v: 1, manifestVersion: manifest.version, job: { ...spec.job, env }, params, inputs: ctx.inputIds(job.inputs), datasets, deps: depKeys };
  return createHash('sha256').update(canonicalJson(material)).digest('hex');
}

/** JSON with object keys sorted at every level, so equal content always hashes alike. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
