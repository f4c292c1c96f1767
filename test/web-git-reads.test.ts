// The pages' cached git reads (server/web/git-reads.ts): kept per repository and last recorded
// push, so a push is seen at once. Against a fake backend (what is read again, and when), and
// through the pages after real pushes: the runs filter's branches, the ref picker's branches and
// tags, the commit list's history, a deleted branch.
import t from 'tap';
import type { Repo } from '../server/domain/model.ts';
import type { GitBackend, GitCommit, GitRef } from '../server/domain/ports.ts';
import { CachedGitReads } from '../server/web/git-reads.ts';
import { GitClient } from './helpers/git-client.ts';
import { startServer } from './helpers/server.ts';
import { WebClient } from './helpers/web-client.ts';

/** A backend whose refs and history the test sets, counting what is asked of it. */
function fakeGit(state: { refs: GitRef[]; log: GitCommit[]; note: string | null; notesHead: string | null }) {
  const calls = { refs: 0, commits: 0, diff: 0, notesHead: 0, blob: 0 };
  const git = {
    refs: async () => (calls.refs++, state.refs),
    commits: async () => (calls.commits++, state.log),
    diff: async (_id: number, from: string | null, to: string) => (calls.diff++, { from, to, files: [], truncated: false }),
    notesHead: async () => (calls.notesHead++, state.notesHead),
    blob: async () => {
      calls.blob++;
      if (state.note === null) return null;
      const { Readable } = await import('node:stream');
      return { sha: 'b'.repeat(40), size: state.note.length, content: Readable.from([Buffer.from(state.note)]) };
    },
  } as unknown as GitBackend;
  return { git, calls };
}

const repoAt = (pushedAt: Date | null) => ({ id: 7, pushedAt }) as Repo;
const commit = (sha: string): GitCommit => ({ sha, parents: [], author: { name: 'a', email: 'a@x', date: '' }, committer: { name: 'a', email: 'a@x', date: '' }, message: sha });

t.test('kept until the next recorded push; never for a repository without one', async (t) => {
  const state = { refs: [{ name: 'refs/heads/main', sha: 'a'.repeat(40), type: 'commit' }], log: [commit('c1')], note: 'note 1', notesHead: 'n'.repeat(40) };
  const { git, calls } = fakeGit(state);
  const reads = new CachedGitReads(git);
  const first = repoAt(new Date(1000));

  t.same(await reads.refNames(first), { branches: ['main'], tags: [] });
  state.refs = [...state.refs, { name: 'refs/heads/dev', sha: 'a'.repeat(40), type: 'commit' }, { name: 'refs/tags/v1', sha: 'a'.repeat(40), type: 'commit' }];
  t.same(await reads.refNames(first), { branches: ['main'], tags: [] }, 'the same push: kept');
  t.equal(calls.refs, 1);
  t.same(await reads.refNames(repoAt(new Date(2000))), { branches: ['main', 'dev'], tags: ['v1'] }, 'a later push: read again');
  t.equal(calls.refs, 2);

  await reads.commits(first, 'c1', 10);
  await reads.commits(first, 'c1', 10);
  t.equal(calls.commits, 1, 'a page of history, once per push');
  await reads.commits(first, 'c1', 11);
  t.equal(calls.commits, 2, 'another length is another read');
  await reads.diff(first, null, 'c1', 100);
  await reads.diff(first, null, 'c1', 100);
  t.equal(calls.diff, 1);

  const never = repoAt(null);
  await reads.refNames(never);
  await reads.refNames(never);
  await reads.commits(never, 'c1', 10);
  await reads.commits(never, 'c1', 10);
  t.equal(calls.refs, 4, 'no recorded push: refs read every time');
  t.equal(calls.commits, 4, 'no recorded push: history read every time');

  const mutated = await reads.refNames(first);
  (mutated.branches as string[]).push('changed by a caller');
  t.same(await reads.refNames(first), { branches: ['main'], tags: [] }, 'callers get copies');
});

t.test('notes: the notes ref is read every time, the note under it once', async (t) => {
  const state: Parameters<typeof fakeGit>[0] = { refs: [], log: [], note: 'accuracy: 0.9', notesHead: '1'.repeat(40) };
  const { git, calls } = fakeGit(state);
  const reads = new CachedGitReads(git);
  const repo = repoAt(new Date(1000));
  t.equal(await reads.note(repo, 'c1', 1024), 'accuracy: 0.9');
  t.equal(await reads.note(repo, 'c1', 1024), 'accuracy: 0.9');
  t.same([calls.notesHead, calls.blob], [2, 1]);
  state.notesHead = '2'.repeat(40);
  state.note = 'accuracy: 0.95';
  t.equal(await reads.note(repo, 'c1', 1024), 'accuracy: 0.95', 'a new note (no push: the server writes notes) is seen at once');
  t.equal(await reads.note(repo, 'c1', 5), 'accur\n… (cut at 5 bytes)', 'cut at the cap');
  state.notesHead = null;
  t.equal(await reads.note(repo, 'c1', 1024), null, 'no notes ref: no note');
});

t.test('pages after pushes: new branches, tags and commits at once, a deleted branch gone', async (t) => {
  const server = await startServer(t);
  const git = await GitClient.create(t);
  const alice = await server.user('alice');
  t.equal((await server.api('POST', '/api/v1/repos', { auth: alice.tokenBasic, body: { name: 'model' } })).status, 201);
  const work = await git.workRepo('model', [{ 'README.md': '# model\n' }]);
  const url = server.gitUrl('alice', 'model', alice.tokenBasic);
  await git.ok(['push', '-q', url, 'main'], { cwd: work });
  const web = new WebClient(server.url);
  t.equal((await web.signIn('alice', alice.password)).status, 303);

  const runsFilter = async () => {
    const page = (await web.get('/alice/model/runs')).text;
    const list = page.slice(page.indexOf('<datalist id="branches">'), page.indexOf('</datalist>'));
    return [...list.matchAll(/<option value="([^"]*)">/g)].map((m) => m[1]);
  };
  const picker = async () => {
    const page = (await web.get('/alice/model/tree/main')).text;
    const menu = page.slice(page.indexOf('<details class="ref-picker">'), page.indexOf('</details>'));
    return [...menu.matchAll(/<a href="\/alice\/model\/tree\/([^"/]+)"/g)].map((m) => decodeURIComponent(m[1]!));
  };
  t.same(await runsFilter(), ['main']);
  t.same(await picker(), ['main']);
  const history = (await web.get('/alice/model/commits/main')).text;

  await git.ok(['branch', 'dev'], { cwd: work });
  await git.ok(['tag', 'v1'], { cwd: work });
  const second = await git.commit(work, { 'train.py': 'print(1)\n' }, 'second commit');
  await git.ok(['push', '-q', url, 'main', 'dev', 'v1'], { cwd: work });
  t.same(await runsFilter(), ['dev', 'main'], 'the runs filter lists the pushed branch');
  t.same(await picker(), ['main', 'dev', 'v1'], 'the ref picker lists the pushed branch and tag');
  const after = (await web.get('/alice/model/commits/main')).text;
  t.notOk(history.includes(second.slice(0, 8)));
  t.ok(after.includes(second.slice(0, 8)), 'the commit list shows the pushed commit');

  await git.ok(['push', '-q', url, '--delete', 'dev'], { cwd: work });
  t.same(await runsFilter(), ['main'], 'a deleted branch leaves the runs filter');
  t.same(await picker(), ['main', 'v1'], 'and the ref picker');
});
