import { gitEnv, spawnGit } from './run-git.ts';

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
