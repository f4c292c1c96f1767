import type { GitTreeEntry } from '../../domain/ports.ts';
import { gitEnv, spawnGit } from './run-git.ts';

/** "<mode> <type> <id>\t<path>", as `ls-tree -z` prints an entry. */
function entryOf(line: string): GitTreeEntry {
  const tab = line.indexOf('\t');
  const [mode = '', type, sha = ''] = line.slice(0, tab).split(' ');
  const path = line.slice(tab + 1);
  return { name: path.slice(path.lastIndexOf('/') + 1), path, type: type === 'tree' || type === 'commit' ? type : 'blob', mode, sha, size: null };
}

/** Files, submodules and directories under a commit's tree with their ids, streamed and cut off at `limit`. */
export function listTree(cwd: string, commitSha: string, env: Record<string, string>, limit: number): Promise<GitTreeEntry[]> {
  return new Promise((resolve, reject) => {
    const child = spawnGit(['ls-tree', '-r', '-t', '-z', commitSha], { cwd, env: gitEnv(env), stdio: [false, true, true] });
    const paths: GitTreeEntry[] = [];
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
        paths.push(entryOf(p));
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
