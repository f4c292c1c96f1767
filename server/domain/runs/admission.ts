import type { Db } from '../../db/connect.ts';
import { queuedCounts } from '../../db/run-queue.ts';
import { DomainError, invalid } from '../errors.ts';
import type { Repo } from '../model.ts';
import type { QueueLimits } from './queue-policy.ts';

export interface Refusal {
  /** `invalid`: the request itself is too big; `rate_limited`: the queue is full for now. */
  readonly code: 'invalid' | 'rate_limited';
  readonly message: string;
}

/**
 * Whether a push or a manual request may add runs: one push may not start more than
 * MLGIT_RUN_MAX_PER_PUSH, and an owner or repository may not hold more queued runs than its cap,
 * so one push cannot fill the queue for everyone.
 */
export class RunAdmission {
  constructor(
    private readonly db: Db,
    private readonly limits: Pick<QueueLimits, 'maxRunsPerPush' | 'maxQueuedPerOwner' | 'maxQueuedPerRepo'>,
  ) {}

  /** `what` names the source in the message: "this push", "this request". */
  async refusal(repo: Repo, count: number, what: string): Promise<Refusal | null> {
    if (count === 0) return null;
    const { maxRunsPerPush, maxQueuedPerOwner, maxQueuedPerRepo } = this.limits;
    if (count > maxRunsPerPush) return { code: 'invalid', message: `${what} would start ${count} runs; the limit is ${maxRunsPerPush} (MLGIT_RUN_MAX_PER_PUSH)` };
    const queued = await queuedCounts(this.db, repo.ownerId, repo.id);
    const full = (held: number, max: number, who: string, per: string, setting: string): Refusal | null =>
      held + count > max
        ? { code: 'rate_limited', message: `${who} has ${held} queued runs; ${what} would add ${count} and the limit is ${max} per ${per} (${setting}); wait for runs to finish or cancel some` }
        : null;
    return (
      full(queued.owner, maxQueuedPerOwner, repo.owner, 'owner', 'MLGIT_RUN_MAX_QUEUED_PER_OWNER') ??
      full(queued.repo, maxQueuedPerRepo, `${repo.owner}/${repo.name}`, 'repository', 'MLGIT_RUN_MAX_QUEUED_PER_REPO')
    );
  }

  /** The manual-run API: 422 for a request over the per-push cap, 429 while the queue is full. */
  async admit(repo: Repo, count: number): Promise<void> {
    const refused = await this.refusal(repo, count, 'this request');
    if (refused) throw refused.code === 'invalid' ? invalid(refused.message) : new DomainError('rate_limited', refused.message);
  }
}
