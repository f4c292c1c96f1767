import type { PushContext } from '../hook-sessions.ts';
import type { HookVerdict } from '../pushes.ts';
import { type Principal, type RefUpdate, type Repo, ZERO_SHA } from '../model.ts';
import type { GitBackend, QuarantineEnv } from '../ports.ts';
import type { Run } from '../runs/model.ts';
import { randomSecret } from '../secrets.ts';
import type { CommitRequest } from './commit-operations.ts';
import { isValidRevision } from './revisions.ts';
import { lfsAttributeLine, lfsPatterns, lfsPointer, matchesLfsPattern } from './lfs-rules.ts';
import { TreeClash, type HubGit, type TreeChange } from './ports.ts';

const MAX_ATTRIBUTES_BYTES = 1024 * 1024;

/** Why a commit was not made; the HTTP layer answers each the way the Hub does. */
export class CommitRefused extends Error {
  constructor(
    readonly reason: 'parent_moved' | 'no_branch' | 'no_entry' | 'missing_lfs' | 'rejected' | 'conflict',
    message: string,
    readonly messages: readonly string[] = [],
  ) {
    super(message);
  }
}

export interface HubCommitDeps {
  readonly git: GitBackend;
  readonly hubGit: HubGit;
  /** PushService.preReceive: the checks every push passes (protected branches, LFS objects, locks, manifests, run limits). */
  readonly preReceive: (repo: Repo, pusherId: number, updates: readonly RefUpdate[], quarantine: QuarantineEnv) => Promise<HookVerdict>;
  /** The push outbox (push-outbox.ts): accepted before the ref moves, delivered after (push log, runs, webhooks). */
  readonly outbox: {
    accept(secret: string, context: PushContext, updates: readonly RefUpdate[], pushOptions: readonly string[]): Promise<void>;
    deliver(secret: string, updates: readonly RefUpdate[]): Promise<{ runs: Run[]; complete: boolean }>;
  };
  /** Which of these LFS objects the repository has. */
  readonly lfsPresent: (repoId: number, oids: string[]) => Promise<Set<string>>;
  /** Marks a session as in flight, so the outbox's reconciler leaves it to this commit (as to a running push). */
  readonly sessions: { open(secret: string): void; close(secret: string): void };
}

export interface MadeCommit {
  readonly sha: string;
  readonly runs: Run[];
  /** False when the push log or runs could not be recorded now (the outbox reconciler finishes them). */
  readonly complete: boolean;
}

/**
 * Commits made through the Hub API land exactly like a `git push` of the same commit: objects in
 * quarantine, the same pre-receive checks, the push outbox row before the ref moves, the ref moved
 * with a compare-and-swap (a commit that lost the race changes nothing: 412), then the outbox
 * delivery that records the push and starts its runs.
 */
export class HubCommits {
  constructor(private readonly deps: HubCommitDeps) {}

  async commit(principal: Principal, repo: Repo, revision: string, request: CommitRequest): Promise<MadeCommit> {
    const { hubGit } = this.deps;
    const { ref, parent } = await this.branch(repo, revision);
    if (request.parentCommit && !(parent ?? '').startsWith(request.parentCommit)) {
      throw new CommitRefused('parent_moved', `parentCommit ${request.parentCommit} is not the head of ${ref.slice('refs/heads/'.length)} (${parent ?? 'empty'}): pull and try again`);
    }
    const changes = await this.changes(repo, parent, request);
    const user = principal.user;
    const message = request.description ? `${request.summary}\n\n${request.description}` : request.summary;
    const staged = await hubGit.stageCommit(repo.id, parent, changes, message, { name: user.username, email: user.email ?? `${user.username}@users.noreply.mlgit` }).catch((err: unknown) => {
      throw err instanceof TreeClash ? new CommitRefused('conflict', `the commit conflicts with the tree at ${parent?.slice(0, 12) ?? 'the empty repository'}: ${err.message}`) : err;
    });
    const secret = randomSecret();
    this.deps.sessions.open(secret);
    try {
      const update: RefUpdate = { ref, oldSha: parent ?? ZERO_SHA, newSha: staged.sha };
      const verdict = await this.deps.preReceive(repo, user.id, [update], staged.quarantine);
      if (!verdict.ok) throw new CommitRefused('rejected', 'the commit was refused by the checks every push passes', verdict.messages);
      await this.deps.outbox.accept(secret, { repoId: repo.id, pusherId: user.id }, [update], []);
      await staged.publish();
      if (!(await hubGit.updateRef(repo.id, ref, staged.sha, update.oldSha))) {
        // Lost the race for the branch: the outbox drops the row of an update that did not happen.
        await this.deps.outbox.deliver(secret, []);
        throw new CommitRefused('parent_moved', `${ref.slice('refs/heads/'.length)} moved while this commit was made: pull and try again`);
      }
      const delivery = await this.deps.outbox.deliver(secret, [update]);
      return { sha: staged.sha, runs: delivery.runs, complete: delivery.complete };
    } finally {
      this.deps.sessions.close(secret);
      await staged.discard();
    }
  }

  /** The branch a revision names, and its head (null: the default branch of an empty repository). */
  private async branch(repo: Repo, revision: string): Promise<{ ref: string; parent: string | null }> {
    const { hubGit } = this.deps;
    // Through the repository's cat-file process: no git process of its own on the commit path.
    const named = isValidRevision(revision) ? await hubGit.commitOf(repo.id, `refs/heads/${revision}`) : null;
    if (named) return { ref: `refs/heads/${revision}`, parent: named };
    const fallback = revision === 'main' ? await hubGit.commitOf(repo.id, `refs/heads/${repo.defaultBranch}`) : null;
    if (fallback) return { ref: `refs/heads/${repo.defaultBranch}`, parent: fallback };
    // An empty repository: the first commit creates its default branch (as the Hub's first upload does).
    const empty = !(await this.deps.git.refs(repo.id)).some((r) => r.name.startsWith('refs/heads/'));
    if (empty && (revision === 'main' || revision === repo.defaultBranch)) return { ref: `refs/heads/${repo.defaultBranch}`, parent: null };
    throw new CommitRefused('no_branch', `Invalid rev id: ${revision} (commits go to an existing branch)`);
  }

  /** The request as tree changes, with deletions checked and LFS pointers (and their .gitattributes lines) written. */
  private async changes(repo: Repo, parent: string | null, request: CommitRequest): Promise<TreeChange[]> {
    const { hubGit } = this.deps;
    for (const [paths, type] of [[request.deletedFiles, 'file'], [request.deletedFolders, 'directory']] as const) {
      for (const path of paths) {
        const entry = parent ? await hubGit.entry(repo.id, parent, path) : null;
        if (entry?.type !== type) throw new CommitRefused('no_entry', `Entry not found: ${path} (no such ${type} to delete)`);
      }
    }
    const oids = [...new Set(request.lfsFiles.map((f) => f.oid))];
    const present = oids.length > 0 ? await this.deps.lfsPresent(repo.id, oids) : new Set<string>();
    const missing = request.lfsFiles.filter((f) => !present.has(f.oid));
    if (missing.length > 0) {
      throw new CommitRefused('missing_lfs', `LFS objects were never uploaded to this repository: ${missing.map((f) => `${f.path} (${f.oid.slice(0, 12)})`).join(', ')}; upload them through the LFS batch API first`);
    }
    const changes: TreeChange[] = [
      ...request.deletedFiles.map((path) => ({ kind: 'delete' as const, path })),
      ...request.deletedFolders.map((path) => ({ kind: 'deleteFolder' as const, path })),
      ...request.files.filter((f) => f.path !== '.gitattributes').map((f) => ({ kind: 'put' as const, path: f.path, content: f.content })),
      ...request.lfsFiles.map((f) => ({ kind: 'put' as const, path: f.path, content: Buffer.from(lfsPointer(f.oid, f.size)) })),
    ];
    const attributes = await this.attributes(repo, parent, request);
    if (attributes) changes.push({ kind: 'put', path: '.gitattributes', content: attributes });
    return changes;
  }

  /**
   * The commit's .gitattributes: as sent, or as it was, plus a `filter=lfs` line for every LFS file
   * no pattern covers yet, so `git clone` with git-lfs checks the file out as its object. Null: unchanged.
   */
  private async attributes(repo: Repo, parent: string | null, request: CommitRequest): Promise<Buffer | null> {
    const sent = request.files.find((f) => f.path === '.gitattributes')?.content ?? null;
    let current = sent?.toString('utf8') ?? null;
    if (current === null && parent && request.lfsFiles.length > 0) {
      const entry = await this.deps.hubGit.entry(repo.id, parent, '.gitattributes');
      if (entry?.type === 'file' && !entry.lfs && entry.size <= MAX_ATTRIBUTES_BYTES) current = (await this.deps.hubGit.readSmall(repo.id, entry.oid)).toString('utf8');
    }
    const patterns = lfsPatterns(current);
    const added = request.lfsFiles.filter((f) => !matchesLfsPattern(patterns, f.path)).map((f) => lfsAttributeLine(f.path));
    if (added.length === 0) return sent;
    const base = current ?? '';
    return Buffer.from(`${base}${base && !base.endsWith('\n') ? '\n' : ''}${added.join('\n')}\n`);
  }
}
