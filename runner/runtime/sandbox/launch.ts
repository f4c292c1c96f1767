import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { jobUser } from '../job-user.ts';
import type { SandboxPlan } from './types.ts';

/**
 * What both sandboxes share: how the job's environment crosses the sandbox machinery, how the job
 * drops to its user, and its process limit.
 */

/** PATH of the sandbox machinery (prlimit, bwrap, unshare, mount, pivot_root, setpriv). */
export const LAUNCH_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const ENV_PREFIX = 'MLGIT_JOB_ENV_';

/**
 * The environment to spawn a sandbox with: the job's variables renamed, PATH the machinery's.
 * The machinery starts outside the sandbox (as root, for a root runner): a manifest's
 * LD_PRELOAD=<a pushed LFS object in the data dir> must never reach it, and neither may a PATH or
 * locale of the job's choosing. Renamed variables mean nothing to ld.so or sh; jobEntry() restores
 * them inside. Values stay out of argv, which every local user can read in /proc/<pid>/cmdline.
 */
export function launchEnv(env: Record<string, string>): Record<string, string> {
  const renamed = Object.fromEntries(Object.entries(env).map(([name, value]) => [ENV_PREFIX + name, value]));
  return { ...renamed, PATH: LAUNCH_PATH };
}

/** Exports each named variable from its renamed copy and drops the copy; names are checked by checkSpec (no shell syntax). */
const RESTORE_ENV = `while [ "$1" != -- ]; do eval "export $1=\\"\\$${ENV_PREFIX}$1\\"; unset ${ENV_PREFIX}$1"; shift; done; shift; exec "$@"`;

/**
 * The last steps before the job's argv, run inside the sandbox: the process limit, then the job's
 * own environment.
 *
 * RLIMIT_NPROC is set here, inside, not around the sandbox: since Linux 5.14 it counts per user
 * namespace, so in the job's own user namespace it bounds this job alone, whereas set outside it
 * would also cap the namespace's creator, i.e. every process of the runner's user. (A root runner's
 * jobs have no user namespace; they share nobody's count, as concurrent jobs of one user do.)
 */
export function jobEntry(plan: SandboxPlan): string[] {
  return ['prlimit', `--nproc=${plan.pids}`, '--', '/bin/sh', '-c', RESTORE_ENV, 'mlgit-env', ...plan.envNames, '--'];
}

/**
 * Becomes the job user with no capabilities and no_new_privs (setuid binaries do nothing).
 * A root runner drops to nobody here; `pdeathsig=keep` because changing uid clears the parent-death
 * signal that ties the sandbox to its parent. `leaveUserNs`: the job was set up by the root of a
 * user namespace (the unshare sandbox of an unprivileged runner), which owns the sandbox's mounts
 * and could undo them; the job moves to a nested namespace as the runner's own uid, with nothing.
 */
export function dropToJobUser(plan: SandboxPlan, options: { leaveUserNs: boolean }): string[] {
  const { uid, gid } = plan.user;
  if (plan.asRoot) return ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--inh-caps=-all', '--no-new-privs', '--pdeathsig=keep', '--'];
  if (options.leaveUserNs) return ['setpriv', '--no-new-privs', '--', 'unshare', '--user', `--map-user=${uid}`, `--map-group=${gid}`, '--'];
  return [];
}

/** A plan for probing: the mode real jobs use, around /bin/true. */
export function probePlan(): SandboxPlan {
  const dir = tmpdir();
  return {
    workspace: dir,
    outputs: dir,
    network: false,
    user: jobUser(),
    asRoot: (process.getuid?.() ?? 0) === 0,
    pids: 64,
    tmpfsBytes: 16 * 1024 * 1024,
    envNames: [],
  };
}

/** Runs a sandbox around /bin/true: why it failed, or undefined. */
export function tryLaunch(command: string, argv: string[]): string | undefined {
  const probe = spawnSync(argv[0] as string, [...argv.slice(1), '/bin/true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000, env: launchEnv({}) });
  if (probe.error) return (probe.error as NodeJS.ErrnoException).code === 'ENOENT' ? `${command} is not installed` : `${command} failed: ${probe.error.message}`;
  if (probe.status !== 0) return `${command} does not work here: ${probe.stderr.toString().trim() || `exit ${probe.status}`}`;
  return undefined;
}
