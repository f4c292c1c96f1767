import { gitSpawner } from './git-spawner.ts';
import type { GitChild } from './spawned-git.ts';

/**
 * Environment for every git child: no system or global config (the server's $HOME must not
 * change how repos behave), no prompts. Callers add only what a command needs.
 */
export function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    LANG: 'C',
    ...extra,
  };
}

/**
 * Starts git through the spawner (git-spawner.ts), never by forking the server itself.
 * `env` is the child's whole environment (build it with gitEnv); `stdio` says which of
 * stdin, stdout, stderr are wanted as streams.
 */
export function spawnGit(args: string[], options: { cwd?: string; env: Record<string, string>; stdio: [boolean, boolean, boolean] }): GitChild {
  return gitSpawner.spawn('git', args, options);
}

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

const MAX_CAPTURE = 64 * 1024 * 1024;

/** Runs a fixed git command to completion and captures its (bounded) output. */
export function runGit(args: string[], options: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawnGit(args, { cwd: options.cwd, env: gitEnv(options.env), stdio: [options.input !== undefined, true, true] });
    if (options.input !== undefined) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(options.input);
    }
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > MAX_CAPTURE) child.kill('SIGKILL');
      else out.push(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-8192);
    });
    child.on('error', reject);
    child.on('close', (code: number | null) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

export async function runGitOk(args: string[], options: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<string> {
  const result = await runGit(args, options);
  if (result.code !== 0) throw new Error(`git ${args[0]} failed (${result.code}): ${result.stderr.trim()}`);
  return result.stdout.toString();
}

/** Resolves when the child exits, with the tail of its stderr (drained so git never blocks on it). */
export function exitOf(child: GitChild): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8192);
  });
  return new Promise((resolve) => {
    child.on('error', (err) => resolve({ code: -1, stderr: err.message }));
    child.on('close', (code: number | null) => resolve({ code, stderr }));
  });
}
