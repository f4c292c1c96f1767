import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Files a job produced, read by the runner on the host. The job controls the workspace, so a
 * path is accepted only if it stays inside `root` lexically and no component of it is a
 * symlink: `metrics.json -> /etc/shadow` or `out -> /` must never be read or uploaded.
 */
export async function safePath(root: string, relative: string): Promise<string> {
  if (path.isAbsolute(relative) || relative.split(/[\\/]/).includes('..')) throw new Error(`"${relative}" is not a relative path inside the job's directory`);
  const full = path.resolve(root, relative);
  if (full !== root && !full.startsWith(root + path.sep)) throw new Error(`"${relative}" leaves the job's directory`);
  let current = root;
  for (const part of path.relative(root, full).split(path.sep)) {
    current = path.join(current, part);
    const stat = await fs.lstat(current);
    if (stat.isSymbolicLink()) throw new Error(`"${relative}" goes through a symbolic link; outputs and metrics must be real files`);
  }
  return full;
}

/** Reads at most `maxBytes` of a regular file inside `root`. */
export async function readSafe(root: string, relative: string, maxBytes: number): Promise<string> {
  const file = await safePath(root, relative);
  const stat = await fs.stat(file);
  if (!stat.isFile()) throw new Error(`"${relative}" is not a regular file`);
  if (stat.size > maxBytes) throw new Error(`"${relative}" is ${stat.size} bytes; the limit is ${maxBytes}`);
  return fs.readFile(file, 'utf8');
}

export async function sha256File(file: string): Promise<{ oid: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { oid: hash.digest('hex'), size };
}
