import t from 'tap';
import { GroupCommit } from '../server/domain/group-commit.ts';

/** A writer that records the groups it was given and fails on the items `bad` names. */
function recorder(bad: (item: number) => boolean = () => false) {
  const groups: number[][] = [];
  const write = async (items: readonly number[]) => {
    groups.push([...items]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const failing = items.find(bad);
    if (failing !== undefined) throw new Error(`bad item ${failing}`);
  };
  return { groups, write };
}

t.test('a lone item is written on its own, at once', async (t) => {
  const { groups, write } = recorder();
  const commit = new GroupCommit(write);
  await commit.add(1);
  await commit.add(2);
  t.same(groups, [[1], [2]]);
});

t.test('items added while a write is in flight share the next write', async (t) => {
  const { groups, write } = recorder();
  const commit = new GroupCommit(write);
  const first = commit.add(1);
  await new Promise((resolve) => setImmediate(resolve)); // the first write has started
  await Promise.all([first, commit.add(2), commit.add(3), commit.add(4)]);
  t.same(groups, [[1], [2, 3, 4]]);
});

t.test('items added in the same turn share one write, capped at maxItems', async (t) => {
  const { groups, write } = recorder();
  const commit = new GroupCommit(write, 3);
  await Promise.all([1, 2, 3, 4, 5].map((i) => commit.add(i)));
  t.same(groups, [[1, 2, 3], [4, 5]]);
});

t.test('a caller hears of its write only once it has finished', async (t) => {
  let finished = false;
  const commit = new GroupCommit<number>(async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    finished = true;
  });
  await commit.add(1);
  t.ok(finished);
});

t.test('one failing item fails only its own caller', async (t) => {
  const { groups, write } = recorder((item) => item === 2);
  const commit = new GroupCommit(write);
  const results = await Promise.allSettled([1, 2, 3].map((i) => commit.add(i)));
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  t.match((results[1] as PromiseRejectedResult).reason, { message: 'bad item 2' });
  t.same(groups, [[1, 2, 3], [1], [2], [3]], 'the group failed, then each item was written alone');
  await commit.add(4);
  t.same(groups.at(-1), [4], 'and the commit goes on');
});
