import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import type { JobUser } from './job-user.ts';

/** Where the job sees its mounts inside the sandbox: the same paths as in a container. */
export const SANDBOX_WORKSPACE = '/workspace';
export const SANDBOX_OUTPUTS = '/outputs';

/**
 * The few /etc entries programs need (dynamic linker cache and Debian alternatives, which is how
 * libblas.so.3 resolves; user and group names; time zone; TLS roots; Python's config). Never all of
 * /etc: it holds shadow, ssh host keys and the like.
 */
const ETC_ENTRIES = [
  'alternatives', 'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'passwd', 'group', 'nsswitch.conf',
  'localtime', 'timezone', 'ssl', 'ca-certificates', 'ca-certificates.conf', 'mime.types', 'protocols',
  'services', 'hosts', 'host.conf', 'gai.conf', 'resolv.conf', 'matplotlibrc',
];

/** Top-level system paths: usually symlinks into /usr on current distributions, directories on older ones. */
const SYSTEM_ROOTS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

export interface SandboxPlan {
  workspace: string;
  outputs: string;
  network: boolean;
  /** When set, the sandbox is entered as root and drops to this user (a root runner). */
  dropTo?: JobUser;
}

/**
 * bubblewrap arguments for one job, up to and including the `--` before the job's argv.
 *
 * Only what is bound exists: /usr and friends read-only, a few /etc entries, the workspace and
 * outputs read-write, a fresh /tmp, /proc and /dev. A symlink in the repository pointing at a host
 * file therefore resolves to nothing.
 *
 * The environment is not set here with --clearenv/--setenv: bwrap is spawned with exactly the
 * job's environment instead, which has the same effect without putting the values (tokens) in
 * an argv that every local user can read in /proc/<pid>/cmdline.
 *
 * A root runner cannot use a user namespace to become `nobody` (bwrap would map nobody back to
 * root, which owns /etc/shadow and the runner's data); it enters the sandbox as root with only
 * CAP_SETUID/CAP_SETGID and setpriv drops to the job user with no capabilities and no_new_privs.
 */
export function sandboxArgs(plan: SandboxPlan): string[] {
  const namespaces = plan.dropTo
    ? ['--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup-try', ...(plan.network ? [] : ['--unshare-net'])]
    : ['--unshare-all', ...(plan.network ? ['--share-net'] : [])];
  const args = [...namespaces, '--die-with-parent', '--new-session', '--hostname', 'mlgit-job'];
  args.push('--ro-bind', '/usr', '/usr');
  for (const root of SYSTEM_ROOTS) args.push(...systemRoot(root));
  // Directories bwrap creates on its own are 0700 root: unreadable for the job user.
  args.push('--perms', '0755', '--dir', '/etc');
  for (const entry of [...ETC_ENTRIES, ...pythonEtcEntries()]) args.push('--ro-bind-try', `/etc/${entry}`, `/etc/${entry}`);
  args.push('--proc', '/proc', '--dev', '/dev', '--perms', '1777', '--tmpfs', '/tmp');
  args.push('--bind', plan.workspace, SANDBOX_WORKSPACE, '--bind', plan.outputs, SANDBOX_OUTPUTS, '--chdir', SANDBOX_WORKSPACE);
  if (plan.dropTo) {
    const { uid, gid } = plan.dropTo;
    args.push('--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--');
    args.push('/usr/bin/setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--inh-caps=-all', '--no-new-privs');
  }
  args.push('--');
  return args;
}

function systemRoot(root: string): string[] {
  try {
    const stat = lstatSync(root);
    if (stat.isSymbolicLink()) return ['--symlink', readlinkSync(root), root];
    if (stat.isDirectory()) return ['--ro-bind', root, root];
  } catch {
    // absent on this distribution
  }
  return [];
}

function pythonEtcEntries(): string[] {
  try {
    return readdirSync('/etc').filter((name) => name.startsWith('python3'));
  } catch {
    return [];
  }
}
