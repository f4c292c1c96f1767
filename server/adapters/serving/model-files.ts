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

/**
 * The commit's tree, written into `dir` (LFS files as pointers): the code the deployment's command
 * runs. `git archive` writes a tar file that `tar` then unpacks: two processes one after the
 * other, no pipe between them to break mid-stream.
 */
export async function exportCommit(gitDir: string, commitSha: string, dir: string): Promise<void> {
  if (!/^[0-9a-f]{40,64}$/.test(commitSha)) throw new Error(`not a commit id: ${commitSha}`);
  await fs.mkdir(dir, { recursive: true });
  const tarFile = `${dir}.tar`;
  try {
    // The server's own git config only: a user's global `git lfs install` would make archive run
    // the LFS smudge filter (and download); the model file comes apart, from the object store.
    const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_LFS_SKIP_SMUDGE: '1' };
    await run('git', ['--git-dir', gitDir, 'archive', '--format=tar', `--output=${tarFile}`, commitSha], env);
    await run('tar', ['-x', '--no-same-owner', '-f', tarFile, '-C', dir], process.env);
  } finally {
    await fs.rm(tarFile, { force: true });
  }
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args[0] === '--git-dir' ? 'archive' : args[0]} failed (exit ${code}): ${stderr.trim().slice(-500)}`))));
  });
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
