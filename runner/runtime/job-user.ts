import { lchown, readdir } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from './types.ts';

export interface JobUser {
  readonly uid: number;
  readonly gid: number;
}

/** `nobody`: owns nothing on a Debian host or in the job image, so a job can write only what we hand it. */
export const NOBODY: JobUser = { uid: 65534, gid: 65534 };

/**
 * Who jobs run as: never root. A runner running as root hands jobs to `nobody`; an unprivileged
 * runner runs them as itself (it cannot become anyone else, and its own files are writable for it).
 */
export function jobUser(): JobUser {
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? NOBODY : { uid, gid: process.getgid?.() ?? uid };
}

/**
 * Makes the job user the owner of the workspace and outputs trees the runner created, so the
 * job can write there. lchown and no descent into symlinks: a repository's symlink pointing at a
 * host file (/etc/shadow) must never have its target re-owned. Only a root runner changes owners;
 * an unprivileged one already owns them.
 */
export async function handOver(dirs: readonly string[], user: JobUser): Promise<void> {
  if ((process.getuid?.() ?? 0) !== 0) return;
  for (const dir of dirs) {
    try {
      await chownTree(dir, user);
    } catch (error) {
      throw new RuntimeError(`cannot hand ${dir} to the job user ${user.uid}:${user.gid}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
}

async function chownTree(dir: string, user: JobUser): Promise<void> {
  await lchown(dir, user.uid, user.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(child, user);
    else await lchown(child, user.uid, user.gid);
  }
}
