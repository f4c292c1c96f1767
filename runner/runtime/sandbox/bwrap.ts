import { lstatSync, readlinkSync } from 'node:fs';
import { etcEntries, SYSTEM_ROOTS } from './host-view.ts';
import { dropToJobUser, jobEntry, probePlan, tryLaunch } from './launch.ts';
import { SANDBOX_OUTPUTS, SANDBOX_WORKSPACE, type Sandbox, type SandboxPlan } from './types.ts';

/**
 * bubblewrap: one setuid-free binary that builds the whole sandbox in one process (~10 ms).
 *
 * Only what is bound exists: /usr and friends read-only, a few /etc entries, the workspace and
 * outputs read-write, a fresh /tmp and /dev/shm, /proc and a minimal /dev. A symlink in the repository
 * pointing at a host file therefore resolves to nothing.
 *
 * A root runner cannot use a user namespace to become `nobody` (bwrap would map nobody back to
 * root, which owns /etc/shadow and the runner's data); it enters the sandbox as root with only
 * CAP_SETUID/CAP_SETGID and drops to the job user (launch.ts).
 */
export const bwrap: Sandbox = {
  name: 'bwrap',
  label: 'bubblewrap',
  probe: () => tryLaunch('bubblewrap', bwrap.wrap(probePlan())),
  wrap: (plan) => ['bwrap', ...bwrapArgs(plan), ...dropToJobUser(plan, { leaveUserNs: false }), ...jobEntry(plan)],
};

function bwrapArgs(plan: SandboxPlan): string[] {
  const namespaces = plan.asRoot
    ? ['--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup-try', ...(plan.network ? [] : ['--unshare-net'])]
    : ['--unshare-all', ...(plan.network ? ['--share-net'] : [])];
  const args = [...namespaces, '--die-with-parent', '--new-session', '--hostname', 'mlgit-job'];
  args.push('--ro-bind', '/usr', '/usr');
  for (const root of SYSTEM_ROOTS) args.push(...systemRoot(root));
  // Directories bwrap creates on its own are 0700 root: unreadable for the job user.
  args.push('--perms', '0755', '--dir', '/etc');
  for (const entry of etcEntries()) args.push('--ro-bind-try', `/etc/${entry}`, `/etc/${entry}`);
  args.push('--proc', '/proc', '--dev', '/dev');
  // --dev leaves /dev/shm root's 0755, where Python's multiprocessing cannot create a semaphore
  // (joblib then says "[Errno 13] Permission denied ... serial mode"): a tmpfs of the job's own.
  for (const tmpfs of ['/tmp', '/dev/shm']) args.push('--perms', '1777', '--size', String(plan.tmpfsBytes), '--tmpfs', tmpfs);
  args.push('--bind', plan.workspace, SANDBOX_WORKSPACE, '--bind', plan.outputs, SANDBOX_OUTPUTS, '--chdir', SANDBOX_WORKSPACE);
  for (const mount of plan.readOnly ?? []) args.push('--ro-bind', mount.source, mount.target);
  if (plan.asRoot) args.push('--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID');
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
