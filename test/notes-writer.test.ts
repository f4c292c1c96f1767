// Results notes (issue 4, "Results"; mlproject.md, "Results on the commit"): compare-and-swap
// writes of refs/notes/mlproject on a real bare repo, the per-repo NotesWriter under 50
// concurrent completions (one writer, then two racing like two server processes), and the note
// as a user reads it: real clone + fetch of the notes ref + `git log --notes=mlproject` over a
// real mlgit, which still refuses client pushes to that ref.
import t, { type Test } from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GitCliBackend } from '../server/adapters/git/git-cli-backend.ts';
import { NOTES_REF } from '../server/domain/ports.ts';
import { parseNoteJson, renderNote, type NoteRun } from '../server/domain/note-format.ts';
import { NotesWriter, type NotesLog } from '../server/domain/notes-writer.ts';
import { GitClient } from './helpers/git-client.ts';
import { startServer } from './helpers/server.ts';

const REPO = 1;

interface Fixture {
  dataDir: string;
  git: GitCliBackend;
  client: GitClient;
  dir: string;
  /** A new commit on main (plumbing only: no hooks, no server needed). */
  commit(message: string): Promise<string>;
  /** The note of `commit` as git itself reads it from refs/notes/mlproject. */
  note(commit: string): Promise<string>;
}

async function bareRepo(t: Test): Promise<Fixture> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-notes-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const git = new GitCliBackend(dataDir, 1024 * 1024 * 1024);
  await git.create(REPO, 'main');
  const client = await GitClient.create(t);
  const dir = git.repoPath(REPO);
  const commit = async (message: string) => {
    const parent = (await client.run(['rev-parse', '--verify', '--quiet', 'refs/heads/main'], { cwd: dir })).stdout.trim();
    const blob = (await client.run(['hash-object', '-w', '--stdin'], { cwd: dir, input: `${message}\n` })).stdout.trim();
    const tree = (await client.run(['mktree'], { cwd: dir, input: `100644 blob ${blob}\tREADME\n` })).stdout.trim();
    const sha = (await client.ok(['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', message], { cwd: dir })).trim();
    await client.ok(['update-ref', 'refs/heads/main', sha], { cwd: dir });
    return sha;
  };
  const note = (sha: string) => client.ok(['notes', `--ref=${NOTES_REF}`, 'show', sha], { cwd: dir });
  return { dataDir, git, client, dir, commit, note };
}

/** The "database" of runs per commit that render reads: what Postgres is in production. */
function runStore(project = 'demo') {
  const runs = new Map<string, NoteRun[]>();
  let renders = 0;
  return {
    runs,
    get renders() {
      return renders;
    },
    add(commit: string, run: NoteRun) {
      const list = runs.get(commit) ?? [];
      list.push(run);
      runs.set(commit, list);
    },
    render: async (_repoId: number, commit: string): Promise<string | null> => {
      renders += 1;
      // A database round trip: long enough that racing writers read the same head.
      await new Promise((resolve) => setTimeout(resolve, 2));
      const list = runs.get(commit);
      return list ? renderNote({ project, commitSha: commit, runs: list }) : null;
    },
  };
}

const run = (i: number): NoteRun => ({ job: `job-${String(i).padStart(2, '0')}`, status: 'success', durationMs: 1000 * i, runId: i, metrics: { accuracy: i / 100 } });
const jitter = (maxMs: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * maxMs));

function recordingLog(): NotesLog & { warnings: { obj: object; msg: string }[] } {
  const warnings: { obj: object; msg: string }[] = [];
  return { warnings, warn: (obj, msg) => warnings.push({ obj, msg }) };
}

t.test('writeNote: compare-and-swap on refs/notes/mlproject', async (t) => {
  const f = await bareRepo(t);
  const a = await f.commit('a');
  const b = await f.commit('b');
  t.equal(await f.git.notesHead(REPO), null, 'no notes ref before the first note');

  const steps: { name: string; commit: string; text: string; expected: 'head' | 'none' | 'stale'; result: string }[] = [
    { name: 'first note, ref must not exist', commit: a, text: 'one\n', expected: 'none', result: 'written' },
    { name: 'same text again', commit: a, text: 'one\n', expected: 'head', result: 'unchanged' },
    { name: 'ref exists but caller expected none', commit: a, text: 'two\n', expected: 'none', result: 'conflict' },
    { name: 'new text from the current head', commit: a, text: 'two\n', expected: 'head', result: 'written' },
    { name: 'a stale expected head', commit: a, text: 'three\n', expected: 'stale', result: 'conflict' },
    { name: 'a second commit gets its own entry', commit: b, text: 'bee\n', expected: 'head', result: 'written' },
  ];
  const heads: string[] = [];
  for (const step of steps) {
    const head = await f.git.notesHead(REPO);
    const expectedHead = step.expected === 'none' ? null : step.expected === 'stale' ? (heads[0] as string) : head;
    t.equal(await f.git.writeNote(REPO, { commit: step.commit, text: step.text, expectedHead }), step.result, step.name);
    const after = await f.git.notesHead(REPO);
    if (step.result === 'written') {
      t.not(after, head, `${step.name}: the ref moved`);
      heads.push(after as string);
    } else {
      t.equal(after, head, `${step.name}: the ref did not move`);
    }
  }
  t.equal(await f.note(a), 'two\n', 'git notes show reads the CAS-written note, and the conflicting texts never landed');
  t.equal(await f.note(b), 'bee\n');

  const head = heads.at(-1) as string;
  const listing = await f.client.ok(['ls-tree', head], { cwd: f.dir });
  t.same(listing.trim().split('\n').map((l) => l.split('\t')[1]).sort(), [a, b].sort(), 'flat layout: one entry per commit, named by its full sha');
  t.equal((await f.client.ok(['rev-list', '--count', NOTES_REF], { cwd: f.dir })).trim(), '3', 'one notes commit per write, chained by parent');
  t.equal((await f.client.ok(['log', '-1', '--format=%an <%ae> / %cn <%ce>', NOTES_REF], { cwd: f.dir })).trim(), 'mlgit <mlgit@localhost> / mlgit <mlgit@localhost>');
  t.match(await f.client.ok(['log', `--notes=${NOTES_REF}`, '-1', a], { cwd: f.dir }), /Notes \(mlproject\):\n {4}two\n/);
  t.equal((await f.client.ok(['fsck', '--no-dangling'], { cwd: f.dir })).trim(), '', 'the repository is consistent');

  const bad: [string, { commit: string; text: string; expectedHead: string | null }, RegExp][] = [
    ['short sha', { commit: a.slice(0, 7), text: 'x', expectedHead: head }, /commit must be a full sha/],
    ['option-looking commit', { commit: '--all', text: 'x', expectedHead: head }, /commit must be a full sha/],
    ['unknown commit', { commit: 'f'.repeat(40), text: 'x', expectedHead: head }, /is not a commit of repo 1/],
    ['a tree is not a commit', { commit: (await f.client.ok(['rev-parse', `${a}^{tree}`], { cwd: f.dir })).trim(), text: 'x', expectedHead: head }, /is not a commit of repo 1/],
    ['bad expected head', { commit: a, text: 'x', expectedHead: 'HEAD' }, /expectedHead must be a full sha or null/],
  ];
  for (const [name, note, message] of bad) await t.rejects(f.git.writeNote(REPO, note), message, name);
  t.equal(await f.git.notesHead(REPO), head, 'refused writes did not move the ref');
});

t.test('NotesWriter: 50 concurrent completions on one commit, one writer', async (t) => {
  const f = await bareRepo(t);
  const commit = await f.commit('train');
  const store = runStore();
  const writer = new NotesWriter(f.git, store.render);
  await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      await jitter(100);
      store.add(commit, run(i + 1));
      await writer.refresh(REPO, commit);
    }),
  );
  const rows = parseNoteJson(await f.note(commit));
  t.equal(rows.length, 50, 'exactly 50 JSON lines');
  t.same(rows.map((r) => r.run).sort((x, y) => (x as number) - (y as number)), Array.from({ length: 50 }, (_, i) => i + 1), 'every run once');
  t.equal(writer.conflicts, 0, 'a single writer never races itself');
  t.ok(store.renders < 50, `refreshes coalesced: ${store.renders} renders for 50 requests`);
  t.equal((await f.client.ok(['rev-list', '--count', NOTES_REF], { cwd: f.dir })).trim(), String(writer.writes), 'every write is in the notes history');
});

t.test('NotesWriter: two writers (two server processes) racing through the CAS lose nothing', async (t) => {
  const f = await bareRepo(t);
  const commit = await f.commit('train');
  const store = runStore();
  // Separate backends too: nothing shared but the repository on disk, as across processes.
  const other = new GitCliBackend(f.dataDir, 1024 * 1024 * 1024);
  const writers = [new NotesWriter(f.git, store.render), new NotesWriter(other, store.render)];
  await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      // The first two complete at the same instant, one on each writer: both read the same head,
      // so the conflict path runs on every run of this test, not only when timing allows.
      if (i >= 2) await jitter(60);
      store.add(commit, run(i + 1));
      await (writers[i % 2] as NotesWriter).refresh(REPO, commit);
    }),
  );
  const rows = parseNoteJson(await f.note(commit));
  t.equal(rows.length, 50, 'exactly 50 JSON lines');
  t.same(new Set(rows.map((r) => r.run)).size, 50, 'none lost, none doubled');
  const conflicts = writers.reduce((sum, w) => sum + w.conflicts, 0);
  t.ok(conflicts > 0, `the conflict path was exercised: ${conflicts} conflicts`);
  const writes = writers.reduce((sum, w) => sum + w.writes, 0);
  t.equal((await f.client.ok(['rev-list', '--count', NOTES_REF], { cwd: f.dir })).trim(), String(writes), 'every successful write is one commit in a linear history: none overwrote another');
  t.equal((await f.client.ok(['rev-list', '--min-parents=2', '--count', NOTES_REF], { cwd: f.dir })).trim(), '0');
});

t.test('NotesWriter: nothing to render, failures, giving up, idle', async (t) => {
  const f = await bareRepo(t);
  const commit = await f.commit('c');

  await t.test('render returning null writes nothing', async (t) => {
    const writer = new NotesWriter(f.git, async () => null);
    await writer.refresh(REPO, commit);
    t.equal(await f.git.notesHead(REPO), null);
    t.equal(writer.writes, 0);
  });

  await t.test('a render that throws rejects the refresh, is logged, and the next refresh works', async (t) => {
    const log = recordingLog();
    let fail = true;
    const writer = new NotesWriter(
      f.git,
      async () => {
        if (fail) throw new Error('database is down');
        return 'ok\n';
      },
      log,
    );
    await t.rejects(writer.refresh(REPO, commit), /database is down/);
    t.equal(log.warnings.length, 1);
    t.match(log.warnings[0], { msg: 'could not write the mlproject note', obj: { repoId: REPO, commit } });
    fail = false;
    await writer.refresh(REPO, commit);
    t.equal(await f.note(commit), 'ok\n');
  });

  await t.test('a ref that keeps moving: bounded retries, then a clear error', async (t) => {
    const side = await f.commit('side');
    let bump = 0;
    // Each render lets "another process" win the race by writing a note elsewhere first.
    const render = async () => {
      const head = await f.git.notesHead(REPO);
      t.equal(await f.git.writeNote(REPO, { commit: side, text: `bump ${++bump}\n`, expectedHead: head }), 'written');
      return 'never lands\n';
    };
    const log = recordingLog();
    const writer = new NotesWriter(f.git, render, log, { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2 });
    await t.rejects(writer.refresh(REPO, commit), /kept moving: gave up on the note of [0-9a-f]{40} after 4 attempts/);
    t.equal(writer.conflicts, 4);
    t.equal(bump, 4);
    t.equal(await f.note(commit), 'ok\n', 'the note kept its last good text');
    t.equal(log.warnings.length, 1);
  });

  await t.test('idle waits for fire-and-forget refreshes of several commits', async (t) => {
    const store = runStore();
    const writer = new NotesWriter(f.git, store.render);
    const done: string[] = [];
    const commits = [await f.commit('x'), await f.commit('y')];
    for (const [i, c] of commits.entries()) {
      store.add(c, run(i + 1));
      void writer.refresh(REPO, c).then(() => done.push(c));
    }
    await writer.idle();
    // The resolution callbacks of the refreshes run before idle's continuation.
    t.same(done.sort(), [...commits].sort());
    for (const c of commits) t.equal(parseNoteJson(await f.note(c)).length, 1);
    await writer.idle();
    t.pass('idle with nothing to do returns');
  });
});

t.test('a user reads the note with the real git client over mlgit, and cannot push it', async (t) => {
  const server = await startServer(t);
  const client = await GitClient.create(t);
  const alice = await server.user('alice');
  const created = await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'digits' } });
  t.equal(created.status, 201);
  const url = server.gitUrl('alice', 'digits', alice.tokenBasic);
  const work = await client.workRepo('work', [{ 'README.md': '# work\n' }, { 'train.py': 'print(1)\n' }]);
  await client.ok(['remote', 'add', 'origin', url], { cwd: work });
  await client.ok(['push', 'origin', 'main'], { cwd: work });
  const head = (await client.ok(['rev-parse', 'HEAD'], { cwd: work })).trim();
  const repo = await server.services.db.selectFrom('repos').select('id').where('name', '=', 'digits').executeTakeFirstOrThrow();

  const runs: NoteRun[] = [
    { job: 'train', status: 'success', durationMs: 41_000, runId: 12, metrics: { accuracy: 0.9611 }, primary: 'accuracy' },
    { job: 'evaluate', status: 'success', durationMs: 5_000, runId: 13, metrics: { f1_macro: 0.9598 } },
  ];
  const writer = new NotesWriter(server.services.git, async (_id, sha) => renderNote({ project: 'digits-classifier', commitSha: sha, runs }));
  await writer.refresh(repo.id, head);
  const expected = renderNote({ project: 'digits-classifier', commitSha: head, runs });

  const clone = path.join(client.home, 'clone');
  await client.ok(['clone', '-q', url, clone]);
  await client.ok(['fetch', '-q', 'origin', `${NOTES_REF}:${NOTES_REF}`], { cwd: clone });
  const log = await client.ok(['log', '--notes=mlproject', '-1'], { cwd: clone });
  t.match(log, `Notes (mlproject):\n    mlproject: digits-classifier @ ${head.slice(0, 7)}\n    `);
  t.match(log, '    {"job":"train","metrics":{"accuracy":0.9611},"run":12,"status":"success","v":1}');
  t.equal(await client.ok(['notes', '--ref=mlproject', 'show', 'HEAD'], { cwd: clone }), expected, 'the fetched note is byte for byte what was rendered');

  await client.ok(['notes', '--ref=mlproject', 'add', '-f', '-m', 'forged results', 'HEAD'], { cwd: clone });
  const pushed = await client.run(['push', 'origin', `${NOTES_REF}:${NOTES_REF}`], { cwd: clone });
  t.not(pushed.code, 0, 'pushing the notes ref is refused');
  t.match(pushed.stderr, /owned by mlgit/);
  const forced = await client.run(['push', '--force', 'origin', `${NOTES_REF}:${NOTES_REF}`], { cwd: clone });
  t.not(forced.code, 0, 'even with --force');
  t.equal(await server.services.git.notesHead(repo.id), (await client.ok(['ls-remote', url, NOTES_REF])).split('\t')[0], 'ls-remote advertises the server-written head');
  const again = path.join(client.home, 'again');
  await client.ok(['clone', '-q', url, again]);
  await client.ok(['fetch', '-q', 'origin', `${NOTES_REF}:${NOTES_REF}`], { cwd: again });
  t.equal(await client.ok(['notes', '--ref=mlproject', 'show', 'HEAD'], { cwd: again }), expected, 'the server note is untouched');
});
