// Which waiting runs go to the job queue next (architecture.md, "Fair scheduling"). Pure: the
// scheduler reads the runs in flight and the ready ones from the database and enqueues the picks,
// so the in-process queue and BullMQ never see more than the window and share this one policy.

export interface QueueLimits {
  /** Runs one push (or one manual request) may start: counted from the manifest at pre-receive. */
  readonly maxRunsPerPush: number;
  /** Queued runs (waiting or handed to the queue) one owner, one repository may have; more are refused. */
  readonly maxQueuedPerOwner: number;
  readonly maxQueuedPerRepo: number;
  /** Runs handed to the queue and not finished, all owners together: the free job slots of the runners. */
  readonly queueWindow: number;
  /** Runs in flight per owner, per repository; above it their runs wait while others' go first. */
  readonly maxRunningPerOwner: number;
  readonly maxRunningPerRepo: number;
}

/** A run handed to the queue or running. */
export interface InFlight {
  readonly ownerId: number;
  readonly repoId: number;
}

/** A queued run whose dependencies have all succeeded, not yet handed to the queue. */
export interface ReadyRun extends InFlight {
  readonly id: number;
  readonly attempt: number;
}

type Caps = Pick<QueueLimits, 'queueWindow' | 'maxRunningPerOwner' | 'maxRunningPerRepo'>;

/**
 * Fills the free slots one at a time: each goes to the owner with the fewest runs in flight (ties:
 * the owner whose next run has waited longest), and within that owner to the repository with the
 * fewest, so owners take turns whatever the length of their backlogs. Owners and repositories at
 * their running cap are passed over. `ready` is oldest first (ids grow with time).
 */
export function pickRuns(inFlight: readonly InFlight[], ready: readonly ReadyRun[], caps: Caps): ReadyRun[] {
  const byOwner = countBy(inFlight, (r) => r.ownerId);
  const byRepo = countBy(inFlight, (r) => r.repoId);
  const waiting = [...ready].sort((a, b) => a.id - b.id);
  const picks: ReadyRun[] = [];
  while (inFlight.length + picks.length < caps.queueWindow) {
    let best: ReadyRun | undefined;
    for (const run of waiting) {
      if (load(byOwner, run.ownerId) >= caps.maxRunningPerOwner || load(byRepo, run.repoId) >= caps.maxRunningPerRepo) continue;
      // The first run seen of an owner or repo is its oldest, so "fewer in flight" alone decides.
      if (!best || load(byOwner, run.ownerId) < load(byOwner, best.ownerId) || (run.ownerId === best.ownerId && load(byRepo, run.repoId) < load(byRepo, best.repoId))) {
        best = run;
      }
    }
    if (!best) break;
    picks.push(best);
    waiting.splice(waiting.indexOf(best), 1);
    byOwner.set(best.ownerId, load(byOwner, best.ownerId) + 1);
    byRepo.set(best.repoId, load(byRepo, best.repoId) + 1);
  }
  return picks;
}

function load(counts: Map<number, number>, key: number): number {
  return counts.get(key) ?? 0;
}

function countBy<T>(items: readonly T[], key: (item: T) => number): Map<number, number> {
  const counts = new Map<number, number>();
  for (const item of items) counts.set(key(item), load(counts, key(item)) + 1);
  return counts;
}
