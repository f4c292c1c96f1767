/**
 * The ContainerRuntime port: how the runner runs one job's commands in isolation. Two adapters:
 * `docker` (Docker Engine API: Docker or Podman's `system service`) and `process` (a local child
 * process in a sandbox: bubblewrap or util-linux unshare, see sandbox/). Both pass
 * test/helpers/container-runtime-contract.ts; the sandboxes also pass test/helpers/sandbox-contract.ts.
 */
import type { PortRelay } from './port-relay.ts';

export interface RuntimeLimits {
  /** CPUs the job may use (fractions allowed), > 0. */
  cpus: number;
  /** Memory ceiling in bytes (swap included), > 0. */
  memoryBytes: number;
  /** Most processes/threads at once, > 0. */
  pids: number;
  /** GPUs (nvidia.com/gpu); only the kubernetes runtime can grant them. */
  gpus?: number;
}

export interface RunSpec {
  image: string;
  /**
   * Shell commands run in order by /bin/sh -c with the workspace as cwd; stops at the first failure
   * (that exit code is the result). Empty: the image's own entrypoint and command run (a model
   * server from an image); runtimes that have no image throw RuntimeError.
   */
  commands: string[];
  /** Host directory with the checked-out repo; read-write; the cwd (in a container mounted at /workspace). */
  workspace: string;
  /** Host directory for outputs; in a container mounted at /outputs; MLP_OUTPUT_DIR points at it in both runtimes. */
  outputs: string;
  /** The only environment the job sees, plus MLP_OUTPUT_DIR, HOME and PATH set by the runtime. Never the runner's own env. */
  env: Record<string, string>;
  limits: RuntimeLimits;
  timeoutMs: number;
  /** false (default in manifests) -> no network at all. */
  network: boolean;
  /**
   * Optional: host directories the job sees read-only (a deployment's model file). Runtimes that
   * cannot honour them throw RuntimeError rather than run without them.
   */
  readOnlyMounts?: readonly ReadOnlyMount[];
  /**
   * Optional: a TCP port the job listens on inside its own network namespace, relayed to a unix
   * socket in its outputs (a deployment's `port`); the job still has no network. Runtimes that
   * cannot run the relay beside the job throw RuntimeError.
   */
  relay?: PortRelay;
  /** Aborting = cancel: stop the job promptly. */
  signal: AbortSignal;
  /** Called once the container/process has started (latency benchmarks measure up to this). */
  onStart?: () => void;
  /** stdout+stderr interleaved in arrival order; awaited, so a slow consumer applies backpressure (memory stays flat). */
  onOutput: (chunk: Buffer) => Promise<void>;
}

export type { PortRelay };

/** A host directory bound read-only at `target`, a top-level directory of the job's own (e.g. /model). */
export interface ReadOnlyMount {
  source: string;
  target: string;
}

export type Outcome = 'exited' | 'timeout' | 'oom' | 'cancelled';

export interface RunResult {
  outcome: Outcome;
  /** The exit code for 'exited' (and 'oom', where it is 137); null when we stopped the job. */
  exitCode: number | null;
  durationMs: number;
}

export interface ContainerRuntime {
  readonly name: 'docker' | 'process' | 'kubernetes';
  /** Said to the user in the job log before the job runs, e.g. that the process runtime ignores `image`. */
  readonly warnings: readonly string[];
  run(spec: RunSpec): Promise<RunResult>;
  close(): Promise<void>;
  /** Removes what runners of this host that died left running (job containers); returns their ids. */
  sweepOrphans?(): Promise<string[]>;
}

/** Infrastructure failures (engine unreachable, image missing, cannot create container): the run becomes status `error`, retried per retries.when infra_error. */
export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
}
