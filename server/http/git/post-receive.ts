// mlgit's post-receive step, run in the server once git receive-pack has answered a push (its
// report held back by receive-pack-answer.ts): the push outbox's rows of the refs git moved are
// delivered (the push recorded, its runs created) and the pusher is told where its runs are.
// Pushes that land without it (a crash, the database down) are finished by the outbox's reconciler.
import type { PushOutbox } from '../../domain/push-outbox.ts';
import { startedRunLines } from '../../domain/runs/links.ts';
import { inSpan } from '../../observability/tracing.ts';
import type { PushInFlight } from './pushes-in-flight.ts';

const WARNING =
  'warning: mlgit could not finish recording this push now (database or job queue unavailable); it has landed, and its runs will start when the service is back';

/**
 * Never fails: the push has landed whatever happens here. Without a report (git was cut short, or
 * the client asked for none) nothing is delivered now: the reconciler sees which refs moved.
 */
export async function postReceive(outbox: PushOutbox, secret: string, push: PushInFlight, updatedRefs: ReadonlySet<string> | null): Promise<string[]> {
  if (push.accepted === undefined || updatedRefs === null) return [];
  const updates = push.accepted.filter((update) => updatedRefs.has(update.ref));
  const delivery = await inSpan('mlgit.post-receive', { 'mlgit.refs': updates.length }, () => push.timeline.within('post-receive').time('deliver', () => outbox.deliver(secret, updates, push.repo)));
  const lines: string[] = [];
  if (push.repo && delivery.runs.length > 0) lines.push(...startedRunLines(push.baseUrl, `${push.repo.owner}/${push.repo.name}`, delivery.runs));
  if (!delivery.complete) lines.push(WARNING);
  return lines;
}
