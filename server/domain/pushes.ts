import { DEFAULT_FILE, matchesAnyGlob } from '../../schema/manifest.ts';
import type { Db } from '../db/connect.ts';
import type { PushContext } from './hook-sessions.ts';
import { checkPushedManifests } from './manifest-gate.ts';
import type { ManifestMemo } from './manifest-memo.ts';
import { type RefUpdate, type Repo, ZERO_SHA } from './model.ts';
import type { GitBackend, JobQueue, PushedPointer, PushReader, QuarantineEnv } from './ports.ts';

/** What pre-receive needs to know about LFS: stored objects and file locks. */
export interface LfsGate {
  /** Which of these oids the repo has (uploaded there or inherited by a fork). */
  present(repoId: number, oids: string[]): Promise<Set<string>>;
  /** Locks held by someone other than `userId` (a repo holds few). */
  heldByOthers(repoId: number, userId: number): Promise<{ path: string; owner: string }[]>;
}

/** The queue limits a push's runs must fit (RunAdmission): a refusal's message, or null. */
export interface RunAdmissionGate {
  refusal(repo: Repo, count: number, what: string): Promise<{ message: string } | null>;
}

/** Times named steps (Server-Timing style); the hook API logs them with the push's timeline. */
export interface StepTimer {
  time<T>(step: string, work: () => Promise<T>): Promise<T>;
}

const untimed: StepTimer = { time: (_step, work) => work() };

export interface HookVerdict {
  readonly ok: boolean;
  readonly messages: string[];
  /** pre-receive: the runs the pushed manifests would start (an upper bound: path filters are not applied). */
  readonly runs?: number;
}

/** Refs only the server writes: run results as notes, registered model versions and aliases, and mlgit's own bookkeeping. */
const SERVER_OWNED = [/^refs\/notes\/mlproject$/, /^refs\/models\//, /^refs\/mlgit\//];

export const MAINTENANCE_JOB = 'repo.maintenance';

/** Gates pushes synchronously (pre-receive) and records them (post-receive) without slow work. */
export class PushService {
  constructor(
    private readonly db: Db,
    private readonly git: GitBackend,
    private readonly queue: JobQueue,
    private readonly maintenanceDelayMs: number,
    private readonly lfs: LfsGate,
    private readonly admission: RunAdmissionGate,
    /** Shared with the run dispatcher: the manifests read here are not read again after the push. */
    private readonly manifests: ManifestMemo,
    /** Told about every accepted push after it is recorded (webhooks); must only enqueue. */
    private readonly onPushed: (context: PushContext, updates: readonly RefUpdate[]) => Promise<void> = async () => {},
  ) {}

  /**
   * The checks are independent, so they run side by side: each is a git process or two (or a
   * query), and the pusher waits for the slowest one rather than for their sum.
   */
  async preReceive(repo: Repo, pusherId: number, updates: readonly RefUpdate[], quarantine: QuarantineEnv, timer: StepTimer = untimed): Promise<HookVerdict> {
    // The LFS scan and the manifest read share one git process (GitBackend.openPushReader).
    const reader = this.git.openPushReader(repo.id, quarantine);
    const [refProblems, lfs, locked, manifests] = await Promise.all([
      timer.time('refs', () => this.refProblems(repo, updates, quarantine)),
      timer.time('lfs-objects', () => this.missingLfsObjects(repo, updates, quarantine, reader)),
      timer.time('locks', () => this.lockedPaths(repo, pusherId, updates, quarantine)),
      // Manifest warnings are shown but never block: the gate says whether it rejects.
      timer.time('manifests', () => checkPushedManifests(this.git, repo, updates, quarantine, reader, this.manifests)),
    ]).finally(() => reader.close());
    const messages = [...refProblems, ...lfs, ...locked];
    // Counted from the manifests just read: the push's runs must fit the queue limits.
    const refused = manifests.ok ? await timer.time('run-limits', () => this.admission.refusal(repo, manifests.runs, 'this push')) : null;
    if (refused) messages.push(`error: ${DEFAULT_FILE}: ${refused.message}`);
    return { ok: messages.length === 0 && manifests.ok, messages: [...messages, ...manifests.messages], runs: manifests.runs };
  }

  private async refProblems(repo: Repo, updates: readonly RefUpdate[], quarantine: QuarantineEnv): Promise<string[]> {
    const problems = await Promise.all(updates.map((update) => this.checkUpdate(repo, update, quarantine)));
    return updates.flatMap((update, i) => (problems[i] ? [`error: ${update.ref}: ${problems[i]}`] : []));
  }

  /** GitHub's GH008: a push whose LFS pointers name objects the server does not have is rejected. */
  private async missingLfsObjects(repo: Repo, updates: readonly RefUpdate[], quarantine: QuarantineEnv, reader: PushReader): Promise<string[]> {
    const tips = updates.map((u) => u.newSha).filter((sha) => sha !== ZERO_SHA);
    if (tips.length === 0) return [];
    // The pushed objects are listed from the push's own pack and read over the reader's process.
    // When all their pointers name stored objects (or there are none) that settles it; the walk
    // from the tips (two more git processes) runs only to name the files of a refusal, or when
    // the push sent no objects (a new ref at a commit the repository already has).
    const pushed = await reader.pushedLfsPointers();
    if (pushed !== null && (await this.allStored(repo.id, pushed))) return [];
    const pointers = await this.git.newLfsPointers(repo.id, tips, quarantine);
    if (pointers.length === 0) return [];
    const present = await this.lfs.present(repo.id, [...new Set(pointers.map((p) => p.oid))]);
    const missing = pointers.filter((p) => !present.has(p.oid));
    if (missing.length === 0) return [];
    const shown = missing.slice(0, 20).map((p) => `  ${p.path} (${p.oid.slice(0, 12)}, ${p.size} bytes)`);
    if (missing.length > 20) shown.push(`  ... and ${missing.length - 20} more`);
    return [
      `error: this push references ${missing.length} Git LFS object(s) that were not uploaded to this repository:`,
      ...shown,
      'hint: run `git lfs push --all origin` to upload them, then push again.',
    ];
  }

  private async allStored(repoId: number, pointers: readonly PushedPointer[]): Promise<boolean> {
    if (pointers.length === 0) return true;
    const present = await this.lfs.present(repoId, [...new Set(pointers.map((p) => p.oid))]);
    return pointers.every((p) => present.has(p.oid));
  }

  private async checkUpdate(repo: Repo, { ref, oldSha, newSha }: RefUpdate, quarantine: QuarantineEnv): Promise<string | null> {
    if (SERVER_OWNED.some((re) => re.test(ref))) return 'this ref is owned by mlgit and cannot be pushed to';
    if (!ref.startsWith('refs/heads/')) return null;
    const branch = ref.slice('refs/heads/'.length);
    if (!matchesAnyGlob(repo.protectedBranches, branch)) return null;
    if (newSha === ZERO_SHA) return `branch "${branch}" is protected: it cannot be deleted`;
    if (oldSha !== ZERO_SHA && !(await this.git.isAncestor(repo.id, oldSha, newSha, quarantine))) {
      return `branch "${branch}" is protected: force pushes are not allowed (fetch and merge or rebase first)`;
    }
    return null;
  }

  /**
   * LFS file locks bind on the server too: a client that skips its own check is still refused.
   * The locks are read first: most repos hold none, and then the push's paths are never listed.
   */
  private async lockedPaths(repo: Repo, pusherId: number, updates: readonly RefUpdate[], quarantine: QuarantineEnv): Promise<string[]> {
    const locks = await this.lfs.heldByOthers(repo.id, pusherId);
    if (locks.length === 0) return [];
    const tips = updates.filter((u) => u.ref.startsWith('refs/heads/') && u.newSha !== ZERO_SHA).map((u) => u.newSha);
    const touched = new Set(await this.git.touchedPaths(repo.id, tips, quarantine));
    return locks
      .filter((l) => touched.has(l.path))
      .map((l) => `error: ${l.path} is locked by ${l.owner}; ask them to unlock it (git lfs unlock) before pushing changes to it`);
  }

  /**
   * Enqueues what follows a push that the outbox (push-outbox.ts) has recorded: enqueue only.
   * A pusher deleted before a late finish gets no push event (it would name nobody).
   */
  async afterPush(context: { repoId: number; pusherId: number | null }, updates: readonly RefUpdate[]): Promise<void> {
    // One pending maintenance per repo: a burst of pushes is repacked once.
    await this.queue.enqueue(MAINTENANCE_JOB, { repoId: context.repoId }, { jobId: `maintenance-${context.repoId}`, delayMs: this.maintenanceDelayMs });
    if (context.pusherId !== null) await this.onPushed({ repoId: context.repoId, pusherId: context.pusherId }, updates);
  }

  /** Background repack + commit-graph after pushes, so clones of big histories stay cheap. */
  registerWorkers(): void {
    this.queue.process(MAINTENANCE_JOB, async (data) => {
      const { repoId } = data as { repoId: number };
      if (await this.git.exists(repoId)) await this.git.maintain(repoId);
    });
  }
}
