import type { FileAtCommit } from '../../domain/ports.ts';
import { gitEnv, runGit, spawnGit } from './run-git.ts';

// Reads from a commit's tree for pre-receive, with the push's quarantine environment: the size
// comes from the tree listing, so an oversized file is refused without reading a byte of it.

const SYMLINK_MODE = '120000';
const FILE_MODES = new Set(['100644', '100755']);

export async function readFileAt(cwd: string, commitSha: string, path: string, maxBytes: number, env: Record<string, string>): Promise<FileAtCommit> {
  // --literal-pathspecs: a path is a path, never a pattern.
  const listed = await runGit(['--literal-pathspecs', 'ls-tree', '-z', '-l', commitSha, '--', path], { cwd, env });
  // Not a tree-ish (a tag of a blob, say): there is no such path.
  if (listed.code !== 0) return { kind: 'missing', size: 0 };
  const entry = listed.stdout
    .toString('utf8')
    .split('\0')
    .find((e) => e.slice(e.indexOf('\t') + 1) === path);
  if (!entry) return { kind: 'missing', size: 0 };
  const [mode = '', type = '', objectSha = '', size = ''] = entry.slice(0, entry.indexOf('\t')).split(/\s+/);
  const bytes = size === '-' ? 0 : Number(size);
  if (type !== 'blob') return { kind: 'other', size: 0 };
  if (mode === SYMLINK_MODE) return { kind: 'symlink', size: bytes };
  if (!FILE_MODES.has(mode)) return { kind: 'other', size: bytes };
  if (bytes > maxBytes) return { kind: 'too_large', size: bytes };
  const blob = await runGit(['cat-file', 'blob', objectSha], { cwd, env });
  if (blob.code !== 0) throw new Error(`git cat-file failed (${blob.code}): ${blob.stderr.trim()}`);
  return { kind: 'file', size: bytes, content: blob.stdout };
}

/** Paths of files and directories under a commit's tree, streamed and cut off at `limit`. */
export function listPaths(cwd: string, commitSha: string, env: Record<string, string>, limit: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawnGit(['ls-tree', '-r', '-t', '-z', '--name-only', commitSha], { cwd, env: gitEnv(env), stdio: [false, true, true] });
    const paths: string[] = [];
    let rest = '';
    let stderr = '';
    let enough = false;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      if (enough) return;
      const parts = (rest + chunk).split('\0');
      rest = parts.pop() ?? '';
      for (const p of parts) {
        if (paths.length >= limit) {
          enough = true;
          child.kill('SIGTERM');
          return;
        }
        paths.push(p);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4096);
    });
    child.on('error', reject);
    child.on('close', (code: number | null) => {
      if (enough || code === 0) resolve(paths);
      else reject(new Error(`git ls-tree failed (${code}): ${stderr.trim()}`));
    });
  });
}
