// What pre-receive keeps of a pushed commit for its runs (server/domain/manifest-gate.ts
// readsForRuns): the params file, the root tree and the input ids. They are a head start for
// post-receive, never a check: a read that fails must neither refuse the push nor leave a wrong
// entry behind. Pure logic: the git reads are stand-ins here (test/push-reader and
// test/commit-reads read real repositories).
import t from 'tap';
import { checkPushedManifests } from '../server/domain/manifest-gate.ts';
import { ManifestMemo } from '../server/domain/manifest-memo.ts';
import { ZERO_SHA, type Repo } from '../server/domain/model.ts';
import type { FileAtCommit, GitBackend, PushReader } from '../server/domain/ports.ts';

const TIP = 'a'.repeat(40);
const ROOT = 'b'.repeat(40);
const MANIFEST = 'version: 1\nname: gate\nimage: python:3.11-slim\njobs:\n  train:\n    kind: train\n    command: "true"\n    inputs: [src/]\n';
const repo = { id: 7, defaultBranch: 'main' } as Repo;
const git = { listPaths: async () => ['mlproject.yaml', 'params.yaml', 'src', 'src/a.py'] } as unknown as GitBackend;
const file = (text: string): FileAtCommit => ({ kind: 'file', size: text.length, content: Buffer.from(text) });
const FILES: Record<string, FileAtCommit> = { 'mlproject.yaml': file(MANIFEST), 'params.yaml': file('lr: 0.5\n') };

type Reader = Pick<PushReader, 'fileAt' | 'treeId' | 'filesUnder'>;
const reader = (overrides: Partial<Reader> = {}): Reader => ({
  fileAt: async (_sha, path) => FILES[path] ?? { kind: 'missing', size: 0 },
  treeId: async () => ROOT,
  filesUnder: async (_sha, prefixes) => (prefixes.includes('src') ? [{ path: 'src/a.py', sha: 'c'.repeat(40) }] : []),
  ...overrides,
});

async function gate(withReader: Reader): Promise<{ ok: boolean; runs: number; memo: ManifestMemo }> {
  const memo = new ManifestMemo();
  const verdict = await checkPushedManifests(git, repo, [{ ref: 'refs/heads/main', oldSha: ZERO_SHA, newSha: TIP }], {}, withReader, memo);
  return { ok: verdict.ok, runs: verdict.runs, memo };
}

t.test('a valid manifest: its params file, root tree and input ids are kept for the runs', async (t) => {
  const { ok, runs, memo } = await gate(reader());
  t.ok(ok);
  t.equal(runs, 1);
  const kept = memo.recall(repo.id, TIP);
  t.equal(kept?.manifest?.name, 'gate');
  t.same(kept?.paramsFile, FILES['params.yaml']);
  t.same(kept?.inputs, { rootTree: ROOT, entries: [{ path: 'src/a.py', sha: 'c'.repeat(40) }] });
});

const failures: [string, Partial<Reader>][] = [
  ['the input walk fails', { filesUnder: async () => Promise.reject(new Error('git cat-file has exited')) }],
  ['the params file cannot be read', { fileAt: async (_sha, path) => (path === 'params.yaml' ? Promise.reject(new Error('could not read')) : FILES[path]!) }],
  ['the root tree cannot be read', { treeId: async () => Promise.reject(new Error('git cat-file has exited')) }],
];
for (const [what, overrides] of failures) {
  t.test(`${what}: the push passes and only the manifest is kept`, async (t) => {
    const { ok, runs, memo } = await gate(reader(overrides));
    t.ok(ok, 'not refused');
    t.equal(runs, 1, 'its runs still counted');
    const kept = memo.recall(repo.id, TIP);
    t.equal(kept?.manifest?.name, 'gate');
    t.equal(kept?.paramsFile, undefined, 'nothing half read: the dispatcher reads git');
    t.equal(kept?.inputs, undefined);
  });
}

t.test('too many input files (filesUnder answers null) or no root tree: the input ids are left to the dispatcher', async (t) => {
  for (const overrides of [{ filesUnder: async () => null }, { treeId: async () => null }] satisfies Partial<Reader>[]) {
    const kept = (await gate(reader(overrides))).memo.recall(repo.id, TIP);
    t.same(kept?.paramsFile, FILES['params.yaml'], 'the params file is still kept');
    t.equal(kept?.inputs, undefined);
  }
});
