// Wire types between the server and its runners (architecture.md: runner/ shares only schema/
// with the server; everything else crosses HTTP). Paths are relative to the job's workspace.

export type OutputType = 'artifact' | 'model' | 'dir';
export type MetricsFormat = 'json' | 'yaml' | 'jsonl' | 'csv';

/** What a runner executes for one run: everything already interpolated and capped by the server. */
export interface JobSpec {
  readonly image: string;
  /** Shell commands, run in order with the workspace as cwd; the first failure ends the job. */
  readonly commands: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** `gpus` (the manifest's resources.gpu) only when the job asks for GPUs. */
  readonly resources: { readonly cpus: number; readonly memoryBytes: number; readonly pids: number; readonly gpus?: number };
  readonly timeoutSeconds: number;
  readonly network: boolean;
  /** Relative to the outputs dir (`${{ outputs_dir }}`, MLP_OUTPUT_DIR). */
  readonly outputs: readonly { readonly path: string; readonly type: OutputType }[];
  /** Relative to the workspace. */
  readonly metrics: { readonly path: string; readonly format: MetricsFormat } | null;
}

/** The answer to a successful claim. */
export interface ClaimedJob {
  readonly run: { readonly id: number; readonly attempt: number; readonly repo: string; readonly commit: string; readonly ref: string | null; readonly job: string; readonly project: string };
  /** git smart HTTP URL of the repo and a token that may read only this run's repos, until the run ends. */
  readonly source: { readonly url: string; readonly username: string; readonly token: string };
  /** Datasets from other repos of this server, fetched at `commit` into `.mlgit/datasets/<name>`. */
  readonly datasets: readonly { readonly name: string; readonly url: string; readonly commit: string }[];
  /** Outputs of the runs this one depends on, downloaded into the workspace at `path`. */
  readonly inputs: readonly { readonly path: string; readonly oid: string; readonly size: number; readonly href: string }[];
  readonly spec: JobSpec;
  /** W3C trace context of the run's span when the server traces (MLGIT_TRACING): the job joins that trace. */
  readonly traceparent?: string;
}

/** How the job ended, as the runner saw it. */
export type JobOutcome = 'exited' | 'timeout' | 'oom' | 'cancelled' | 'error';

export interface CompleteRequest {
  readonly attempt: number;
  readonly outcome: JobOutcome;
  readonly exit_code: number | null;
  readonly duration_ms: number;
  readonly message?: string;
  /** The metrics file's text (capped by the runner), or a reason it could not be read. */
  readonly metrics?: { readonly text: string } | { readonly error: string };
}

/** Reply to log appends and heartbeats: the runner stops the job when asked. */
export interface RunnerSignal {
  readonly cancel: boolean;
}

export const RUNNER_MAX_METRICS_BYTES = 8 * 1024 * 1024;
export const RUNNER_MAX_LOG_CHUNK_BYTES = 1024 * 1024;
