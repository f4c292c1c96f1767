import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface GitResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real git client as a user would, but isolated: a scratch HOME, no system config,
 * no prompts. Extra env (GIT_PROTOCOL, GIT_TRACE...) can be passed per call.
 */
export class GitClient {
  private constructor(readonly home: string) {}

  static async create(t: { teardown(fn: () => Promise<void>): void }): Promise<GitClient> {
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-client-'));
    t.teardown(() => fs.rm(home, { recursive: true, force: true }));
    await fs.writeFile(path.join(home, '.gitconfig'), '[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n');
    return new GitClient(home);
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.home, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', LANG: 'C', ...extra };
  }

  run(args: string[], options: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<GitResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('git', args, { cwd: options.cwd ?? this.home, env: this.env(options.env), stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      if (options.input !== undefined) {
        child.stdin!.on('error', () => {});
        child.stdin!.end(options.input);
      }
    });
  }

  /** Like run, but throws with git's stderr when it fails. */
  async ok(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
    const result = await this.run(args, options);
    if (result.code !== 0) throw new Error(`git ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
    return result.stdout;
  }

  /** Installs git-lfs's filters into this client's global config (as `git lfs install` does for a user). */
  async enableLfs(): Promise<void> {
    await this.ok(['lfs', 'install', '--skip-repo']);
  }

  /** A fresh working repo under HOME with one commit per entry of `commits` (file -> content). */
  async workRepo(name: string, commits: Record<string, string | Buffer>[] = [{ 'README.md': `# ${name}\n` }]): Promise<string> {
    const dir = path.join(this.home, name);
    await this.ok(['init', '-q', '-b', 'main', dir]);
    for (const [i, files] of commits.entries()) await this.commit(dir, files, `commit ${i + 1}`);
    return dir;
  }

  async commit(dir: string, files: Record<string, string | Buffer>, message: string): Promise<string> {
    for (const [file, content] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await fs.writeFile(path.join(dir, file), content);
    }
    await this.ok(['add', '-A'], { cwd: dir });
    await this.ok(['commit', '-q', '--allow-empty', '-m', message], { cwd: dir });
    return (await this.ok(['rev-parse', 'HEAD'], { cwd: dir })).trim();
  }
}
