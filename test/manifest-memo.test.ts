// The memo of manifests pre-receive parsed for post-receive (server/domain/manifest-memo.ts): pure logic.
import t from 'tap';
import type { Manifest } from '../schema/manifest.ts';
import { ManifestMemo } from '../server/domain/manifest-memo.ts';

const manifest = (name: string) => ({ jobs: { [name]: {} } }) as unknown as Manifest;

t.test('remembers a manifest, or its absence, per repository and commit', async (t) => {
  const memo = new ManifestMemo(4);
  memo.remember(1, 'a'.repeat(40), manifest('train'));
  memo.remember(1, 'b'.repeat(40), null);
  t.same(memo.recall(1, 'a'.repeat(40)), manifest('train'));
  t.equal(memo.recall(1, 'b'.repeat(40)), null, 'a commit without a valid manifest');
  t.equal(memo.recall(2, 'a'.repeat(40)), undefined, 'another repository: not seen');
  t.equal(memo.recall(1, 'c'.repeat(40)), undefined, 'another commit: not seen');
});

t.test('keeps only the most recently remembered commits', async (t) => {
  const memo = new ManifestMemo(2);
  memo.remember(1, 'a', manifest('a'));
  memo.remember(1, 'b', manifest('b'));
  memo.remember(1, 'a', manifest('a2'));
  memo.remember(1, 'c', manifest('c'));
  t.equal(memo.recall(1, 'b'), undefined, 'the oldest went');
  t.same(memo.recall(1, 'a'), manifest('a2'), 'remembering again renews');
  t.same(memo.recall(1, 'c'), manifest('c'));
});
