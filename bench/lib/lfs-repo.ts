import { link, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { RandomFile } from './random-data.ts';
import { runChecked } from './run.ts';

/**
 * Git LFS client-side helpers for benchmarks: the stock `git lfs` client in the bench's isolated
 * HOME, a working repo tracking `*.bin`, and checks on what a clone really downloaded.
 */

/** Environment with a commit identity, so the isolated HOME needs no user config. */
export function withIdentity(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...env,
    GIT_AUTHOR_NAME: 'Bench',
    GIT_AUTHOR_EMAIL: 'bench@example.com',
    GIT_COMMITTER_NAME: 'Bench',
    GIT_COMMITTER_EMAIL: 'bench@example.com',
  };
}

/** `git lfs install --skip-repo`: the filters and hooks config, in the scratch HOME of `env`. Returns the client version. */
export async function installLfs(env: NodeJS.ProcessEnv): Promise<string> {
  await runChecked('git', ['lfs', 'install', '--skip-repo'], { env });
  return (await runChecked('git', ['lfs', 'version'], { env })).stdout.trim();
}

export interface LfsWorkRepo {
  readonly dir: string;
  /** Wall time of `git add` (the clean filter hashes and copies every object into .git/lfs). */
  readonly addSeconds: number;
}

/**
 * A new working repo at `dir` with one commit holding `files` (hard-linked from where they were
 * generated, so no extra copy is written), `*.bin` tracked by LFS and `remoteUrl` as origin.
 */
export async function createLfsWorkRepo(dir: string, files: readonly RandomFile[], remoteUrl: string, env: NodeJS.ProcessEnv): Promise<LfsWorkRepo> {
  await runChecked('git', ['init', '-q', '-b', 'main', dir], { env });
  await runChecked('git', ['lfs', 'track', '*.bin'], { cwd: dir, env });
  const dataDir = path.join(dir, 'data');
  await mkdir(dataDir, { recursive: true });
  for (const file of files) await link(file.path, path.join(dataDir, path.basename(file.path)));
  const add = await runChecked('git', ['add', '-A'], { cwd: dir, env });
  await runChecked('git', ['commit', '-q', '-m', `add ${files.length} LFS object(s)`], { cwd: dir, env });
  await runChecked('git', ['remote', 'add', 'origin', remoteUrl], { cwd: dir, env });
  return { dir, addSeconds: add.seconds };
}

/** Where the client keeps an object: `.git/lfs/objects/ab/cd/<oid>`. */
export function lfsObjectPath(workDir: string, oid: string): string {
  return path.join(workDir, '.git', 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
}

/**
 * Files whose object is not in the clone's LFS store with the right size (git-lfs itself checks
 * the sha256 of what it downloads), or, with `checkedOut`, whose working-tree file is not the
 * full content (a pointer left in place is ~130 bytes). Returns problems, empty when all is well.
 */
export async function checkClone(workDir: string, files: readonly RandomFile[], checkedOut: boolean): Promise<string[]> {
  const problems: string[] = [];
  for (const file of files) {
    const name = path.basename(file.path);
    const stored = await stat(lfsObjectPath(workDir, file.oid)).then((s) => s.size, () => -1);
    if (stored !== file.size) problems.push(`${name}: object ${stored < 0 ? 'missing' : `has ${stored} bytes`}, expected ${file.size}`);
    if (checkedOut) {
      const size = await stat(path.join(workDir, 'data', name)).then((s) => s.size, () => -1);
      if (size !== file.size) problems.push(`${name}: working-tree file has ${size} bytes, expected ${file.size}`);
    }
  }
  return problems;
}
