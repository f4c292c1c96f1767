import type { JobUser } from '../job-user.ts';
import type { ReadOnlyMount } from '../types.ts';

/** Where the job sees its mounts inside a sandbox: the same paths as in a container. */
export const SANDBOX_WORKSPACE = '/workspace';
export const SANDBOX_OUTPUTS = '/outputs';

export type SandboxName = 'bwrap' | 'unshare';

export interface SandboxPlan {
  /** Host directories bound read-write at /workspace and /outputs: the only writable host paths. */
  workspace: string;
  outputs: string;
  network: boolean;
  /** Who the job runs as (job-user.ts). */
  user: JobUser;
  /**
   * The runner is root: the sandbox is set up by root and the job drops to `user` (nobody).
   * Otherwise the runner's own user sets it up inside a user namespace and the job runs as itself.
   */
  asRoot: boolean;
  /** RLIMIT_NPROC of the job, set inside the sandbox (see launch.ts for why there). */
  pids: number;
  /** Size cap of /tmp and of /dev/shm each: tmpfs pages are memory that RLIMIT_AS does not count. */
  tmpfsBytes: number;
  /** Optional: host directories bound read-only at their targets (RunSpec.readOnlyMounts, already checked). */
  readOnly?: readonly ReadOnlyMount[];
  /** Names of the job's environment variables, restored from launchEnv() just before the job starts. */
  envNames: readonly string[];
}

export interface Sandbox {
  readonly name: SandboxName;
  /** How the start-up log and the run log call it. */
  readonly label: string;
  /** Why it cannot run jobs on this machine, or undefined when it can (tries it once, ~10-50 ms). */
  probe(): string | undefined;
  /** The argv prefix that runs a job's argv in the sandbox; spawn it with launchEnv(). */
  wrap(plan: SandboxPlan): string[];
}
