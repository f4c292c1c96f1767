import type { Db } from '../db/connect.ts';
import * as pushesDb from '../db/pushes.ts';
import * as reposDb from '../db/repos.ts';
import type { PushContext } from './hook-sessions.ts';
import { type RefUpdate, type Repo, ZERO_SHA } from './model.ts';
import type { GitBackend, JobQueue, QuarantineEnv } from './ports.ts';

export interface HookVerdict {
  readonly ok: boolean;
  readonly messages: string[];
}

/** Refs only the server writes: run results as notes, and mlgit's own bookkeeping. */
const SERVER_OWNED = [/^refs\/notes\/mlproject$/, /^refs\/mlgit\//];

export const MAINTENANCE_JOB = 'repo.maintenance';

function matchesBranch(patterns: readonly string[], branch: string): boolean {
  return patterns.some((pattern) => {
    if (!pattern.includes('*')) return pattern === branch;
    const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$');
    return re.test(branch);
  });
}

/** Gates pushes synchronously (pre-receive) and records them (post-receive) without slow work. */
export class PushService {
  constructor(
    private readonly db: Db,
    private readonly git: GitBackend,
    private readonly queue: JobQueue,
    private readonly maintenanceDelayMs: number,
  ) {}

  async preReceive(repo: Repo, updates: readonly RefUpdate[], quarantine: QuarantineEnv): Promise<HookVerdict> {
    const messages: string[] = [];
    for (const update of updates) {
      const problem = await this.checkUpdate(repo, update, quarantine);
      if (problem) messages.push(`error: ${update.ref}: ${problem}`);
    }
    return { ok: messages.length === 0, messages };
  }

  private async checkUpdate(repo: Repo, { ref, oldSha, newSha }: RefUpdate, quarantine: QuarantineEnv): Promise<string | null> {
    if (SERVER_OWNED.some((re) => re.test(ref))) return 'this ref is owned by mlgit and cannot be pushed to';
    if (!ref.startsWith('refs/heads/')) return null;
    const branch = ref.slice('refs/heads/'.length);
    if (!matchesBranch(repo.protectedBranches, branch)) return null;
    if (newSha === ZERO_SHA) return `branch "${branch}" is protected: it cannot be deleted`;
    if (oldSha !== ZERO_SHA && !(await this.git.isAncestor(repo.id, oldSha, newSha, quarantine))) {
      return `branch "${branch}" is protected: force pushes are not allowed (fetch and merge or rebase first)`;
    }
    return null;
  }

  /** Runs while the client waits: record and enqueue only (milliseconds). */
  async postReceive(context: PushContext, updates: readonly RefUpdate[]): Promise<void> {
    await pushesDb.insertPushes(this.db, context.repoId, context.pusherId, updates);
    await reposDb.markPushed(this.db, context.repoId);
    // One pending maintenance per repo: a burst of pushes is repacked once.
    await this.queue.enqueue(MAINTENANCE_JOB, { repoId: context.repoId }, { jobId: `maintenance-${context.repoId}`, delayMs: this.maintenanceDelayMs });
  }

  /** Background repack + commit-graph after pushes, so clones of big histories stay cheap. */
  registerWorkers(): void {
    this.queue.process(MAINTENANCE_JOB, async (data) => {
      const { repoId } = data as { repoId: number };
      if (await this.git.exists(repoId)) await this.git.maintain(repoId);
    });
  }
}
