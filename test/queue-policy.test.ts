// The fair pick (server/domain/runs/queue-policy.ts): each case is one scheduling story.
import t from 'tap';
import { pickRuns, type ReadyRun } from '../server/domain/runs/queue-policy.ts';

const caps = (window: number, perOwner = window, perRepo = window) => ({ queueWindow: window, maxRunningPerOwner: perOwner, maxRunningPerRepo: perRepo });
let nextId = 1;
/** `n` ready runs of one repository, oldest first. */
const backlog = (ownerId: number, repoId: number, n: number): ReadyRun[] => Array.from({ length: n }, () => ({ id: nextId++, attempt: 1, ownerId, repoId }));
const owners = (picks: readonly ReadyRun[]) => picks.map((p) => p.ownerId);

t.test('a free slot goes to the owner with nothing in flight, not to the older backlog', async (t) => {
  const a = backlog(1, 10, 500);
  const b = backlog(2, 20, 1);
  t.same(owners(pickRuns([{ ownerId: 1, repoId: 10 }], [...a, ...b], caps(2))), [2]);
});

t.test('owners with equal loads take turns, the longest waiting first', async (t) => {
  const a = backlog(1, 10, 5);
  const b = backlog(2, 20, 5);
  t.same(owners(pickRuns([], [...b, ...a], caps(5))), [1, 2, 1, 2, 1]);
});

t.test('within an owner, repositories take turns', async (t) => {
  const first = backlog(1, 10, 3);
  const second = backlog(1, 11, 3);
  t.same(pickRuns([], [...first, ...second], caps(4)).map((p) => p.repoId), [10, 11, 10, 11]);
});

t.test('an owner or repository at its running cap waits while slots stay free for others', async (t) => {
  const a = backlog(1, 10, 5);
  t.same(owners(pickRuns([{ ownerId: 1, repoId: 10 }], a, caps(4, 2))), [1], 'one more for the owner, then its cap');
  t.same(pickRuns([], [...a, ...backlog(1, 11, 5)], caps(4, 4, 1)).map((p) => p.repoId), [10, 11], 'one per repository');
});

t.test('a full window picks nothing', async (t) => {
  t.same(pickRuns([{ ownerId: 1, repoId: 10 }, { ownerId: 2, repoId: 20 }], backlog(3, 30, 2), caps(2)), []);
});
