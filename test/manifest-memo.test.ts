// The memo of what pre-receive read of pushed commits, for post-receive (server/domain/manifest-memo.ts): pure logic.
import t from 'tap';
import type { Manifest } from '../schema/manifest.ts';
import { type CommitReads, ManifestMemo } from '../server/domain/manifest-memo.ts';

const reads = (name: string): CommitReads => ({ manifest: { jobs: { [name]: {} } } as unknown as Manifest, paramsFile: { kind: 'missing', size: 0 } });

t.test('remembers what was read, or that there was no manifest, per repository and commit', async (t) => {
  const memo = new ManifestMemo(4);
  memo.remember(1, 'a'.repeat(40), reads('train'));
  memo.remember(1, 'b'.repeat(40), { manifest: null });
  t.same(memo.recall(1, 'a'.repeat(40)), reads('train'));
  t.same(memo.recall(1, 'b'.repeat(40)), { manifest: null }, 'a commit without a valid manifest');
  t.equal(memo.recall(2, 'a'.repeat(40)), undefined, 'another repository: not seen');
  t.equal(memo.recall(1, 'c'.repeat(40)), undefined, 'another commit: not seen');
});

t.test('keeps only the most recently remembered commits', async (t) => {
  const memo = new ManifestMemo(2);
  memo.remember(1, 'a', reads('a'));
  memo.remember(1, 'b', reads('b'));
  memo.remember(1, 'a', reads('a2'));
  memo.remember(1, 'c', reads('c'));
  t.equal(memo.recall(1, 'b'), undefined, 'the oldest went');
  t.same(memo.recall(1, 'a'), reads('a2'), 'remembering again renews');
  t.same(memo.recall(1, 'c'), reads('c'));
});
