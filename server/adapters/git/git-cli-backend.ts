import fs from 'node:fs/promises';
import path from 'node:path';
import type {
  CommitDiff,
  FileAtCommit,
  GitBackend,
  LfsPointer,
  GitBlob,
  GitCommit,
  GitProcess,
  GitRef,
  GitService,
  GitTreeEntry,
  NoteWrite,
  NoteWriteResult,
  PushReader,
  QuarantineEnv,
} from '../../domain/ports.ts';
import { NOTES_REF } from '../../domain/ports.ts';
import { commitDiff } from './commit-diff.ts';
import { HOOK_NAMES, hookScript, INSTALLED_MARK, RETIRED_HOOKS } from './hook-scripts.ts';
import { newLfsPointers } from './lfs-pointers.ts';
import { GitPushReader } from './push-reader.ts';
import { exitOf, gitEnv, runGit, runGitOk, spawnGit } from './run-git.ts';
import { listPaths } from './tree-files.ts';

const SHA = /^[0-9a-f]{40}$/;
const ZERO_SHA = '0'.repeat(40);
/** Identity of the notes commits: the server writes them, no user does. */
const NOTES_IDENTITY = { GIT_AUTHOR_NAME: 'mlgit', GIT_AUTHOR_EMAIL: 'mlgit@localhost', GIT_COMMITTER_NAME: 'mlgit', GIT_COMMITTER_EMAIL: 'mlgit@localhost' };

/**
 * Server-side settings passed with -c on every service call, so a repo's own config can never
 * weaken them (protocols.md): forced hooks, fsck on receive, keep pushed packs as packs
 * (model repos: exploding big packs into loose objects costs seconds), partial clone, push options.
 */
function serviceConfig(hooksDir: string, maxPushBytes: number): string[] {
  return [
    `core.hooksPath=${hooksDir}`,
    'receive.fsckObjects=true',
    'receive.unpackLimit=1',
    'transfer.unpackLimit=1',
    'receive.advertisePushOptions=true',
    // No `git gc --auto` at the end of every push (a git process the pusher waits for): the
    // maintenance job that post-receive enqueues repacks in the background instead.
    'receive.autogc=false',
    `receive.maxInputSize=${maxPushBytes}`,
    'uploadpack.allowFilter=true',
    // Runners fetch exactly the commit of their run (which may no longer be a ref tip).
    'uploadpack.allowReachableSHA1InWant=true',
    'uploadpack.allowAnySHA1InWant=false',
  ].flatMap((c) => ['-c', c]);
}

export class GitCliBackend implements GitBackend {
  private readonly root: string;
  /** Whole-repository jobs (repack, fsck) of each repo, run one after another. */
  private readonly exclusive = new Map<number, Promise<unknown>>();

  constructor(
    dataDir: string,
    private readonly maxPushBytes: number,
  ) {
    this.root = path.join(dataDir, 'repos');
  }

  /** Repos live at repos/<id mod 256 in hex>/<id>.git: derived from the id, never from URL text. */
  repoPath(repoId: number): string {
    if (!Number.isSafeInteger(repoId) || repoId <= 0) throw new Error(`bad repo id ${repoId}`);
    return path.join(this.root, (repoId % 256).toString(16).padStart(2, '0'), `${repoId}.git`);
  }

  async create(repoId: number, defaultBranch: string): Promise<void> {
    const dir = this.repoPath(repoId);
    await fs.mkdir(path.dirname(dir), { recursive: true });
    await runGitOk(['init', '--bare', '--quiet', `--initial-branch=${defaultBranch}`, dir]);
    await this.ensureHooks(repoId);
  }

  async fork(sourceId: number, targetId: number, defaultBranch: string): Promise<void> {
    const dir = this.repoPath(targetId);
    await fs.mkdir(path.dirname(dir), { recursive: true });
    // --local hardlinks the object files: the fork costs no copy and survives its source's deletion.
    await runGitOk(['clone', '--bare', '--local', '--quiet', this.repoPath(sourceId), dir]);
    await runGitOk(['remote', 'remove', 'origin'], { cwd: dir });
    await this.setDefaultBranch(targetId, defaultBranch);
    await this.ensureHooks(targetId);
  }

  async remove(repoId: number): Promise<void> {
    await fs.rm(this.repoPath(repoId), { recursive: true, force: true });
  }

  async setDefaultBranch(repoId: number, branch: string): Promise<void> {
    await runGitOk(['symbolic-ref', 'HEAD', `refs/heads/${branch}`], { cwd: this.repoPath(repoId) });
  }

  async ensureHooks(repoId: number): Promise<boolean> {
    const hooksDir = path.join(this.repoPath(repoId), 'hooks');
    await fs.mkdir(hooksDir, { recursive: true });
    let repaired = false;
    for (const name of HOOK_NAMES) {
      const file = path.join(hooksDir, name);
      const wanted = hookScript(name);
      const current = await fs.readFile(file, 'utf8').catch(() => null);
      const executable = await fs.access(file, fs.constants.X_OK).then(() => true, () => false);
      if (current !== wanted || !executable) {
        // Owner-only like the rest of the data dir: git runs hooks as the server's own user.
        await fs.writeFile(file, wanted, { mode: 0o700 });
        await fs.chmod(file, 0o700);
        repaired = true;
      }
    }
    for (const name of RETIRED_HOOKS) {
      const file = path.join(hooksDir, name);
      if ((await fs.readFile(file, 'utf8').catch(() => ''))?.includes(INSTALLED_MARK)) {
        await fs.rm(file, { force: true });
        repaired = true;
      }
    }
    return repaired;
  }

  async exists(repoId: number): Promise<boolean> {
    return fs.access(path.join(this.repoPath(repoId), 'HEAD')).then(() => true, () => false);
  }

  async listRepoIds(): Promise<number[]> {
    const ids: number[] = [];
    const buckets = await fs.readdir(this.root).catch(() => [] as string[]);
    for (const bucket of buckets) {
      for (const entry of await fs.readdir(path.join(this.root, bucket)).catch(() => [] as string[])) {
        const match = /^(\d+)\.git$/.exec(entry);
        if (match) ids.push(Number(match[1]));
      }
    }
    return ids.sort((a, b) => a - b);
  }

  spawn(repoId: number, service: GitService, options: { advertise: boolean; protocol: string | null; env: Record<string, string> }): GitProcess {
    const dir = this.repoPath(repoId);
    const args = [...serviceConfig(path.join(dir, 'hooks'), this.maxPushBytes), service, '--stateless-rpc'];
    if (options.advertise) args.push('--advertise-refs');
    args.push(dir);
    const env = gitEnv({ ...options.env, ...(options.protocol ? { GIT_PROTOCOL: options.protocol } : {}) });
    const child = spawnGit(args, { env, stdio: [true, true, true] });
    // A client that vanishes makes our writes fail with EPIPE; the exit code reports it.
    child.stdin!.on('error', () => {});
    return {
      stdin: child.stdin!,
      stdout: child.stdout!,
      exited: exitOf(child),
      kill: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      },
    };
  }

  async isAncestor(repoId: number, ancestor: string, descendant: string, quarantine: QuarantineEnv): Promise<boolean> {
    if (!SHA.test(ancestor) || !SHA.test(descendant)) return false;
    const result = await runGit(['merge-base', '--is-ancestor', ancestor, descendant], {
      cwd: this.repoPath(repoId),
      env: this.quarantineEnv(repoId, quarantine),
    });
    return result.code === 0;
  }

  /** Accepts quarantine paths only inside this repo's objects directory. */
  private quarantineEnv(repoId: number, quarantine: QuarantineEnv): Record<string, string> {
    const objects = path.join(this.repoPath(repoId), 'objects');
    const inside = (p: string | undefined) => p !== undefined && path.resolve(p).startsWith(objects + path.sep);
    const env: Record<string, string> = {};
    if (inside(quarantine.GIT_OBJECT_DIRECTORY) && quarantine.GIT_OBJECT_DIRECTORY) {
      env.GIT_OBJECT_DIRECTORY = quarantine.GIT_OBJECT_DIRECTORY;
      env.GIT_ALTERNATE_OBJECT_DIRECTORIES = objects;
    }
    return env;
  }

  openPushReader(repoId: number, quarantine: QuarantineEnv): PushReader {
    return new GitPushReader(this.repoPath(repoId), this.quarantineEnv(repoId, quarantine));
  }

  async newLfsPointers(repoId: number, tips: string[], quarantine: QuarantineEnv): Promise<LfsPointer[]> {
    return newLfsPointers(this.repoPath(repoId), tips.filter((t) => SHA.test(t)), this.quarantineEnv(repoId, quarantine));
  }

  async touchedPaths(repoId: number, tips: string[], quarantine: QuarantineEnv): Promise<string[]> {
    const valid = tips.filter((t) => SHA.test(t));
    if (valid.length === 0) return [];
    const out = await runGitOk(['log', '--format=', '--name-only', '-z', '--no-renames', ...valid, '--not', '--all'], {
      cwd: this.repoPath(repoId),
      env: this.quarantineEnv(repoId, quarantine),
    });
    return [...new Set(out.split('\0').map((p) => p.replace(/^\n/, '')).filter(Boolean))];
  }

  diff(repoId: number, from: string | null, to: string, maxBytes: number): Promise<CommitDiff | null> {
    return commitDiff(this.repoPath(repoId), from, to, maxBytes);
  }

  async changedPaths(repoId: number, from: string | null, to: string, limit: number): Promise<string[]> {
    if (!SHA.test(to) || (from !== null && !SHA.test(from))) return [];
    const args = from === null ? ['ls-tree', '-r', '--name-only', '-z', to] : ['diff', '--name-only', '-z', '--no-renames', from, to, '--'];
    const out = await runGitOk(args, { cwd: this.repoPath(repoId) });
    return out.split('\0').filter(Boolean).slice(0, limit);
  }

  async pathIds(repoId: number, commit: string, prefixes: readonly string[]): Promise<{ path: string; sha: string }[]> {
    if (!SHA.test(commit)) return [];
    const cwd = this.repoPath(repoId);
    if (prefixes.includes('')) return [{ path: '', sha: (await runGitOk(['rev-parse', `${commit}^{tree}`], { cwd })).trim() }];
    if (prefixes.length === 0) return [];
    // ":(literal)" so a prefix is never read as a pathspec pattern or option.
    const out = await runGitOk(['ls-tree', '-r', '-z', '--full-tree', commit, '--', ...prefixes.map((p) => `:(literal)${p}`)], { cwd });
    return out
      .split('\0')
      .filter(Boolean)
      .map((line) => {
        const tab = line.indexOf('\t');
        return { path: line.slice(tab + 1), sha: line.slice(0, tab).split(' ')[2] ?? '' };
      });
  }

  async mergeBase(repoId: number, a: string, b: string): Promise<string | null> {
    if (!SHA.test(a) || !SHA.test(b)) return null;
    const result = await runGit(['merge-base', a, b], { cwd: this.repoPath(repoId) });
    return result.code === 0 ? result.stdout.toString().trim() : null;
  }

  async readFileAt(repoId: number, commitSha: string, filePath: string, maxBytes: number, quarantine: QuarantineEnv): Promise<FileAtCommit> {
    if (!SHA.test(commitSha)) return { kind: 'missing', size: 0 };
    // One cat-file process for the tree walk and the read (ls-tree then cat-file took two).
    const reader = this.openPushReader(repoId, quarantine);
    try {
      return await reader.fileAt(commitSha, filePath, maxBytes);
    } finally {
      reader.close();
    }
  }

  async listPaths(repoId: number, commitSha: string, quarantine: QuarantineEnv, limit: number): Promise<string[]> {
    if (!SHA.test(commitSha)) return [];
    return listPaths(this.repoPath(repoId), commitSha, this.quarantineEnv(repoId, quarantine), limit);
  }

  maintain(repoId: number): Promise<void> {
    const cwd = this.repoPath(repoId);
    return this.oneAtATime(repoId, async () => {
      // Bitmaps and the commit graph make pack generation for clones of big histories ~10x cheaper.
      await runGitOk(['-c', 'repack.writeBitmaps=true', '-c', 'pack.writeBitmapHashCache=true', 'repack', '-a', '-d', '-q'], { cwd });
      await runGitOk(['commit-graph', 'write', '--reachable'], { cwd });
    });
  }

  /** Never beside a repack: `repack -d` deletes the packs fsck has open ("packfile ... index not opened"). */
  fsck(repoId: number): Promise<{ ok: boolean; output: string }> {
    const cwd = this.repoPath(repoId);
    return this.oneAtATime(repoId, async () => {
      const result = await runGit(['fsck', '--no-progress', '--no-dangling'], { cwd });
      return { ok: result.code === 0, output: (result.stdout.toString() + result.stderr).trim() };
    });
  }

  private oneAtATime<T>(repoId: number, job: () => Promise<T>): Promise<T> {
    const previous = this.exclusive.get(repoId) ?? Promise.resolve();
    const next = previous.then(job, job);
    const settled = next.catch(() => undefined);
    this.exclusive.set(repoId, settled);
    void settled.then(() => {
      if (this.exclusive.get(repoId) === settled) this.exclusive.delete(repoId);
    });
    return next;
  }

  async refs(repoId: number): Promise<GitRef[]> {
    const out = await runGitOk(['for-each-ref', '--format=%(refname)%00%(objectname)%00%(objecttype)', 'refs/heads', 'refs/tags'], {
      cwd: this.repoPath(repoId),
    });
    return lines(out).map((line) => {
      const [name = '', sha = '', type = ''] = line.split('\0');
      return { name, sha, type };
    });
  }

  async resolveCommit(repoId: number, ref: string): Promise<string | null> {
    if (ref.startsWith('-') || ref.includes('\0') || ref.length > 256) return null;
    const result = await runGit(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], { cwd: this.repoPath(repoId) });
    const sha = result.stdout.toString().trim();
    return result.code === 0 && SHA.test(sha) ? sha : null;
  }

  async commits(repoId: number, sha: string, limit: number): Promise<GitCommit[]> {
    if (!SHA.test(sha)) return [];
    const format = ['%H', '%P', '%an', '%ae', '%aI', '%cn', '%ce', '%cI', '%B'].join('%x00') + '%x1e';
    const out = await runGitOk(['log', `--format=${format}`, `--max-count=${limit}`, sha, '--'], { cwd: this.repoPath(repoId) });
    return out
      .split('\x1e')
      .map((record) => record.replace(/^\n/, ''))
      .filter((record) => record.length > 0)
      .map((record) => {
        const [h = '', p = '', an = '', ae = '', ad = '', cn = '', ce = '', cd = '', body = ''] = record.split('\0');
        return {
          sha: h,
          parents: p ? p.split(' ') : [],
          author: { name: an, email: ae, date: ad },
          committer: { name: cn, email: ce, date: cd },
          message: body.trimEnd(),
        };
      });
  }

  async tree(repoId: number, sha: string, treePath: string): Promise<GitTreeEntry[] | null> {
    if (!SHA.test(sha)) return null;
    const spec = treePath ? `${sha}:${treePath}` : `${sha}^{tree}`;
    const result = await runGit(['ls-tree', '-z', '-l', spec], { cwd: this.repoPath(repoId) });
    if (result.code !== 0) return null;
    return result.stdout
      .toString()
      .split('\0')
      .filter(Boolean)
      .map((entry) => {
        const tab = entry.indexOf('\t');
        const [mode = '', type = '', objectSha = '', size = ''] = entry.slice(0, tab).split(/\s+/);
        const name = entry.slice(tab + 1);
        return {
          name,
          path: treePath ? `${treePath}/${name}` : name,
          type: type as GitTreeEntry['type'],
          mode,
          sha: objectSha,
          size: size === '-' ? null : Number(size),
        };
      });
  }

  async blob(repoId: number, sha: string, blobPath: string): Promise<GitBlob | null> {
    if (!SHA.test(sha) || !blobPath) return null;
    const cwd = this.repoPath(repoId);
    const check = await runGit(['rev-parse', '--verify', '--quiet', `${sha}:${blobPath}`], { cwd });
    const blobSha = check.stdout.toString().trim();
    if (check.code !== 0 || !SHA.test(blobSha)) return null;
    const type = (await runGitOk(['cat-file', '-t', blobSha], { cwd })).trim();
    if (type !== 'blob') return null;
    const size = Number((await runGitOk(['cat-file', '-s', blobSha], { cwd })).trim());
    const child = spawnGit(['cat-file', 'blob', blobSha], { cwd, env: gitEnv(), stdio: [false, true, false] });
    return { sha: blobSha, size, content: child.stdout! };
  }

  async version(): Promise<string> {
    return (await runGitOk(['--version'])).trim();
  }

  async notesHead(repoId: number): Promise<string | null> {
    const result = await runGit(['rev-parse', '--verify', '--quiet', NOTES_REF], { cwd: this.repoPath(repoId) });
    const sha = result.stdout.toString().trim();
    return result.code === 0 && SHA.test(sha) ? sha : null;
  }

  /**
   * Builds the next notes commit by hand (what `git notes add -f` does, minus its unconditional
   * ref update): the note blob, the old notes tree with this commit's entry replaced, a commit
   * whose parent is the old head, then `update-ref <new> <old>`, which git applies only if the
   * ref still points at the old head. Always the flat layout (one entry per annotated commit,
   * named by its full sha): git reads it, and mlgit is the only writer of this ref.
   */
  async writeNote(repoId: number, note: NoteWrite): Promise<NoteWriteResult> {
    const { commit, text, expectedHead } = note;
    if (!SHA.test(commit)) throw new Error(`writeNote: commit must be a full sha, got ${JSON.stringify(commit)}`);
    if (expectedHead !== null && !SHA.test(expectedHead)) throw new Error(`writeNote: expectedHead must be a full sha or null`);
    const cwd = this.repoPath(repoId);
    // Independent reads run side by side: under load each git spawn is tens of milliseconds, and
    // a shorter write is a smaller window for another writer to move the ref.
    const [type, blobOut, listing] = await Promise.all([
      runGit(['cat-file', '-t', commit], { cwd }),
      runGitOk(['hash-object', '-w', '--no-filters', '--stdin'], { cwd, input: text }),
      expectedHead === null ? Promise.resolve('') : runGitOk(['ls-tree', '-z', expectedHead], { cwd }),
    ]);
    if (type.code !== 0 || type.stdout.toString().trim() !== 'commit') throw new Error(`writeNote: ${commit} is not a commit of repo ${repoId}`);
    const blob = blobOut.trim();
    const entries: string[] = [];
    if (expectedHead !== null) {
      for (const entry of listing.split('\0')) {
        if (!entry) continue;
        const tab = entry.indexOf('\t');
        if (entry.slice(tab + 1) === commit) {
          if (entry.slice(0, tab).split(' ')[2] === blob) return 'unchanged';
        } else {
          entries.push(entry);
        }
      }
    }
    entries.push(`100644 blob ${blob}\t${commit}`);
    // mktree sorts its input into git's tree order itself.
    const tree = (await runGitOk(['mktree', '-z'], { cwd, input: entries.join('\0') + '\0' })).trim();
    const parents = expectedHead !== null ? ['-p', expectedHead] : [];
    const next = (
      await runGitOk(['commit-tree', tree, ...parents, '-m', `mlgit: results of ${commit}`], { cwd, env: NOTES_IDENTITY })
    ).trim();

    const update = await runGit(['update-ref', NOTES_REF, next, expectedHead ?? ZERO_SHA], { cwd });
    if (update.code === 0) return 'written';
    // Lost the race: the ref moved, or another writer held its lock at that moment. The caller
    // re-reads the head, re-renders and tries again; our objects are left for gc.
    if ((await this.notesHead(repoId)) !== expectedHead || /\.lock|cannot lock/i.test(update.stderr)) return 'conflict';
    throw new Error(`git update-ref ${NOTES_REF} failed (${update.code}): ${update.stderr.trim()}`);
  }

  async readRef(repoId: number, ref: string): Promise<string | null> {
    assertServerRef(ref);
    const result = await runGit(['rev-parse', '--verify', '--quiet', '--end-of-options', ref], { cwd: this.repoPath(repoId) });
    const sha = result.stdout.toString().trim();
    return result.code === 0 && SHA.test(sha) ? sha : null;
  }

  async updateRef(repoId: number, ref: string, commit: string, expected: string | null): Promise<'written' | 'conflict'> {
    assertServerRef(ref);
    if (!SHA.test(commit) || (expected !== null && !SHA.test(expected))) throw new Error('updateRef: commit and expected must be full shas');
    const cwd = this.repoPath(repoId);
    const update = await runGit(['update-ref', '-m', 'mlgit', ref, commit, expected ?? ZERO_SHA], { cwd });
    if (update.code === 0) return 'written';
    // As for notes: the ref moved, or another writer held its lock; the caller re-reads and retries.
    if ((await this.readRef(repoId, ref)) !== expected || /\.lock|cannot lock/i.test(update.stderr)) return 'conflict';
    throw new Error(`git update-ref ${ref} failed (${update.code}): ${update.stderr.trim()}`);
  }
}

/** Only refs the server owns are written this way, and their names went through the registry's checks. */
function assertServerRef(ref: string): void {
  if (!/^refs\/models\/[a-z0-9][a-z0-9._/-]*$/.test(ref) || ref.includes('..') || ref.includes('/.') || ref.endsWith('.lock')) {
    throw new Error(`not a server-owned ref name: ${JSON.stringify(ref)}`);
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}
