import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface FetchAuth {
  readonly username: string;
  readonly token: string;
  /** The origin the credentials are for (scheme://host:port); unset: every URL git visits. */
  readonly server?: string;
}

/**
 * Runs git for the runner with credentials passed through GIT_CONFIG_* environment variables:
 * they never appear in a process list, never land in the workspace's .git/config, and the job
 * (which gets only its own env) never sees them.
 */
export async function git(args: string[], options: { cwd: string; home: string; auth?: FetchAuth; env?: Record<string, string> }): Promise<string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: options.home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
    ...options.env,
  };
  if (options.auth) {
    env.GIT_CONFIG_COUNT = '1';
    // Only for the server: git-lfs follows presigned object-store URLs too, and S3 refuses a
    // request that carries an Authorization header besides its signed query.
    env.GIT_CONFIG_KEY_0 = options.auth.server ? `http.${options.auth.server}/.extraHeader` : 'http.extraHeader';
    env.GIT_CONFIG_VALUE_0 = `Authorization: Basic ${Buffer.from(`${options.auth.username}:${options.auth.token}`).toString('base64')}`;
  }
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new Error(`git ${args[0]} failed (${code}): ${err.trim()}`));
    });
  });
}

/** A scratch HOME with git-lfs's filters configured, shared by the runner's git calls. */
export async function prepareGitHome(home: string): Promise<void> {
  await fs.mkdir(home, { recursive: true });
  await git(['lfs', 'install', '--skip-repo', '--skip-smudge'], { cwd: home, home }).catch(() => {
    // Without git-lfs, repos that use it fail at `lfs pull` with a clear message instead.
  });
}

/**
 * Exactly one commit (shallow) into `dir`, then its LFS objects when the tree uses LFS. Pointer
 * files are checked out first and replaced by `lfs pull`, so a missing object is an error
 * naming the file rather than a silent pointer.
 */
export async function checkoutCommit(dir: string, url: string, commit: string, auth: FetchAuth, home: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const opts = { cwd: dir, home, auth: { ...auth, server: new URL(url).origin } };
  await git(['init', '-q'], opts);
  await git(['fetch', '-q', '--depth', '1', '--no-tags', url, commit], opts);
  await git(['checkout', '-q', '--detach', commit], { ...opts, env: { GIT_LFS_SKIP_SMUDGE: '1' } });
  // Every git spawn is on the push-to-running path: the remote exists only when LFS needs it.
  if (await usesLfs(dir)) {
    await git(['remote', 'add', 'origin', url], opts);
    await git(['lfs', 'pull', 'origin'], opts);
  }
}

async function usesLfs(dir: string): Promise<boolean> {
  try {
    return (await fs.readFile(path.join(dir, '.gitattributes'), 'utf8')).includes('filter=lfs');
  } catch {
    return false;
  }
}
