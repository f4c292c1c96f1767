import { lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { etcEntries, SYSTEM_ROOTS } from './host-view.ts';
import { dropToJobUser, jobEntry, probePlan, tryLaunch } from './launch.ts';
import { SANDBOX_OUTPUTS, SANDBOX_WORKSPACE, type Sandbox, type SandboxPlan } from './types.ts';

/**
 * util-linux `unshare`, for machines without bubblewrap: the same minimal root as bwrap's, built by
 * a fixed /bin/sh script with `mount` inside new mount, PID, IPC, UTS and (unless the manifest
 * allows it) network namespaces.
 *
 * An unprivileged runner adds a user namespace and sets the sandbox up as its root (which is the
 * runner's own uid outside); the job then leaves for a nested user namespace (launch.ts). A root
 * runner uses no user namespace: one created by root maps its root to the real root, so the
 * sandbox is set up by root and the job drops to nobody, as with bwrap.
 *
 * The job's shell is PID 1 of its namespace: when it exits, the kernel kills every process left
 * in it (setsid and double-forked ones included). --kill-child and --pdeathsig take the namespace
 * down when unshare or the runner die.
 */
export const unshare: Sandbox = {
  name: 'unshare',
  label: 'util-linux unshare',
  probe: () => tryLaunch('unshare', unshare.wrap(probePlan())),
  wrap: (plan) => [
    'setpriv', '--pdeathsig=SIGKILL', '--',
    'unshare', ...(plan.asRoot ? [] : ['--user', '--map-root-user']),
    '--mount', '--propagation=private', '--pid', '--fork', '--kill-child', '--ipc', '--uts', ...(plan.network ? [] : ['--net']), '--',
    '/bin/sh', '-c', SETUP, 'mlgit-sandbox', ...setupArgs(plan),
    ...dropToJobUser(plan, { leaveUserNs: !plan.asRoot }),
    ...jobEntry(plan),
  ],
};

/**
 * Builds the new root on a tmpfs mounted over $1 (a host directory that holds none of the
 * directories bound in), makes the mount points ($3, $4; symlinks copied from $5), mounts the
 * rest from the fstab in $2 with one `mount` (each mount a process of its own would cost ~40 ms
 * more), makes the root read-only and pivots into it. pivot_root(".", ".") then a lazy unmount of
 * "." detaches the whole host tree: nothing of it stays reachable, not even by `..`.
 * The fstab is written where the /tmp tmpfs will hide it: libmount reads only regular files.
 * umask 022: the server runs with 077 (its data dir is private), and mount points made 0700 by
 * root would lock the job user out of /etc and /usr.
 */
const SETUP = `set -euf
umask 022
root=$1 fstab=$2 dirs=$3 files=$4 links=$5; shift 5
IFS='
'
mount -t tmpfs -o mode=0755,nosuid,nodev mlgit-root "$root"
cd "$root"
mkdir -p $dirs
for f in $files; do : > "$f"; done
[ -z "$links" ] || cp -P --parents $links .
printf '%s' "$fstab" > tmp/.fstab
mount --all --fstab tmp/.fstab
mount -o remount,bind,ro .
pivot_root . .
umount -l .
cd ${SANDBOX_WORKSPACE}
! command -v hostname >/dev/null || hostname mlgit-job
unset IFS OLDPWD
exec "$@"`;

/** Host directories a tmpfs may cover while the root is built (it hides them only in the sandbox's mount namespace). */
const STAGING = ['/mnt', '/run', '/tmp', '/media', '/srv', '/opt'];

function setupArgs(plan: SandboxPlan): string[] {
  const workspace = realpathSync(plan.workspace);
  const outputs = realpathSync(plan.outputs);
  const readOnly = (plan.readOnly ?? []).map((mount) => ({ source: realpathSync(mount.source), target: mount.target }));
  const hosts = [workspace, outputs, ...readOnly.map((mount) => mount.source)];
  const root = STAGING.find((dir) => isDirectory(dir, false) && !hosts.some((p) => p === dir || p.startsWith(`${dir}/`)));
  if (root === undefined) throw new Error(`no directory among ${STAGING.join(', ')} is free to build the sandbox root on`);
  const dirs = ['usr', 'etc', 'proc', 'dev/shm', 'tmp', SANDBOX_WORKSPACE.slice(1), SANDBOX_OUTPUTS.slice(1)];
  const files: string[] = [];
  const links = ['/dev/fd', '/dev/stdin', '/dev/stdout', '/dev/stderr'];
  const fstab: string[][] = [['/usr', '/usr', 'none', 'rbind,ro,nosuid,nodev']];
  for (const dir of SYSTEM_ROOTS) {
    if (isSymlink(dir)) links.push(dir);
    else if (isDirectory(dir, false)) {
      dirs.push(dir.slice(1));
      fstab.push([dir, dir, 'none', 'rbind,ro,nosuid,nodev']);
    }
  }
  for (const entry of etcEntries()) {
    const host = `/etc/${entry}`;
    if (isDirectory(host, true)) dirs.push(host.slice(1));
    else if (exists(host)) files.push(host.slice(1));
    else continue;
    fstab.push([host, host, 'none', 'bind,ro,nosuid,nodev']);
  }
  fstab.push(['proc', '/proc', 'proc', 'nosuid,nodev,noexec']);
  for (const node of DEV_NODES) {
    files.push(`dev/${node}`);
    fstab.push([`/dev/${node}`, `/dev/${node}`, 'none', 'bind,nosuid,noexec']);
  }
  for (const [name, target] of [['mlgit-tmp', '/tmp'], ['mlgit-shm', '/dev/shm']] as const) {
    fstab.push([name, target, 'tmpfs', `mode=1777,nosuid,nodev,size=${plan.tmpfsBytes}`]);
  }
  fstab.push([workspace, SANDBOX_WORKSPACE, 'none', 'bind,nosuid,nodev'], [outputs, SANDBOX_OUTPUTS, 'none', 'bind,nosuid,nodev']);
  for (const mount of readOnly) {
    dirs.push(mount.target.slice(1));
    fstab.push([mount.source, mount.target, 'none', 'bind,ro,nosuid,nodev']);
  }
  const lines = fstab.map(([source, target, type, options]) => [fstabField(source!), fstabField(root + target!), type, options, '0', '0'].join(' '));
  return [root, `${lines.join('\n')}\n`, dirs.join('\n'), files.join('\n'), links.filter(isSymlink).join('\n')];
}

/** Device nodes a job may use; the rest of /dev (disks, consoles) stays outside. */
const DEV_NODES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

/** fstab(5) separates fields with blanks: a path's blanks and backslashes are octal escapes. */
function fstabField(value: string): string {
  return value.replace(/[\s\\]/g, (char) => `\\${char.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

function isSymlink(path: string): boolean {
  try {
    return readlinkSync(path).length > 0;
  } catch {
    return false;
  }
}

function isDirectory(path: string, followSymlinks: boolean): boolean {
  try {
    return (followSymlinks ? statSync(path) : lstatSync(path)).isDirectory();
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
