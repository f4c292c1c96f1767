// The files a model server starts from: the repository at the version's commit (its code, e.g.
// serve.py) and the model file itself, fetched once per sha256 from the object store and checked.
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectStore } from '../../domain/ports.ts';
import type { ModelVersion } from '../../domain/registry/model.ts';

/**
 * A directory holding only the version's model file under its own name, readable by the sandbox's
 * user (the server's umask is 077). Shared read-only by every replica of that version.
 */
export async function modelDirectory(root: string, store: ObjectStore, version: ModelVersion): Promise<{ dir: string; file: string }> {
  const dir = path.join(root, 'models', version.oid);
  const file = path.posix.basename(version.path);
  const target = path.join(dir, file);
  if (await exists(target)) return { dir, file };
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  await fs.chmod(dir, 0o755);
  const temp = path.join(root, 'models', `.${randomUUID()}.part`);
  try {
    const hash = createHash('sha256');
    const counting = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    await pipeline(await store.get(version.oid), counting, createWriteStream(temp, { mode: 0o644 }));
    const actual = hash.digest('hex');
    if (actual !== version.oid) throw new Error(`the stored model file of version ${version.version} has sha256 ${actual}, not ${version.oid}`);
    await fs.chmod(temp, 0o644);
    await fs.rename(temp, target);
  } finally {
    await fs.rm(temp, { force: true });
  }
  return { dir, file };
}

/** The commit's tree, written into `dir` (git archive | tar): the code the deployment's command runs (LFS files as pointers). */
export async function exportCommit(gitDir: string, commitSha: string, dir: string): Promise<void> {
  if (!/^[0-9a-f]{40,64}$/.test(commitSha)) throw new Error(`not a commit id: ${commitSha}`);
  await fs.mkdir(dir, { recursive: true });
  // The server's own git config only: a user's global `git lfs install` would make archive run the
  // LFS smudge filter (and download); the code gets LFS files as their pointers, the model comes apart.
  const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_LFS_SKIP_SMUDGE: '1' };
  const archive = spawn('git', ['--git-dir', gitDir, 'archive', '--format=tar', commitSha], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const tar = spawn('tar', ['-x', '--no-same-owner', '-C', dir], { stdio: ['pipe', 'ignore', 'pipe'] });
  const errors: string[] = [];
  archive.stderr.on('data', (chunk: Buffer) => errors.push(chunk.toString()));
  tar.stderr.on('data', (chunk: Buffer) => errors.push(chunk.toString()));
  const exited = (child: typeof archive | typeof tar) =>
    new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
  const [archiveCode, tarCode] = await Promise.all([exited(archive), exited(tar), pipeline(archive.stdout, tar.stdin)]);
  if (archiveCode !== 0 || tarCode !== 0) throw new Error(`could not write commit ${commitSha.slice(0, 12)} out: ${errors.join(' ').trim().slice(0, 500)}`);
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
