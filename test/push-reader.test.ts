// pre-receive's one-process reads of a push (server/adapters/git/push-reader.ts): the objects a
// push sent, listed from the pack index and loose files of a real quarantine directory inside a
// real bare repo; the LFS pointers among them; and one path of a pushed tree, which must answer
// exactly as `git ls-tree -l` + `git cat-file blob` did for every kind of entry; and the files under
// given directories, exactly as `git ls-tree -r -- <prefixes>` lists them.
import t, { type Test } from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GitCliBackend } from '../server/adapters/git/git-cli-backend.ts';
import { objectIdsIn } from '../server/adapters/git/object-dir.ts';
import type { FileAtCommit } from '../server/domain/ports.ts';
import { GitClient } from './helpers/git-client.ts';

const REPO = 1;
const POINTER = (oid: string, size: number) => `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${size}\n`;
const OID_A = 'a'.repeat(64);
const OID_B = 'b'.repeat(64);

interface Pushed {
  git: GitCliBackend;
  client: GitClient;
  dir: string;
  quarantine: string;
  /** The commit whose objects are in the quarantine only. */
  tip: string;
  /** What `git rev-list --objects tip --not base` lists: the objects the "push" sent. */
  sent: string[];
}

async function pushInQuarantine(t: Test): Promise<Pushed> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-push-reader-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const git = new GitCliBackend(dataDir, 1024 * 1024 * 1024);
  await git.create(REPO, 'main');
  const client = await GitClient.create(t);
  const dir = git.repoPath(REPO);
  const blob = async (text: string, env: Record<string, string> = {}) =>
    (await client.run(['hash-object', '-w', '--stdin'], { cwd: dir, input: text, env })).stdout.trim();
  const tree = async (lines: string[], env: Record<string, string> = {}) =>
    (await client.run(['mktree'], { cwd: dir, input: lines.join('\n') + '\n', env })).stdout.trim();

  // The repository before the push: one commit on main.
  const base = (await client.run(['commit-tree', await tree([`100644 blob ${await blob('base\n')}\tREADME`]), '-m', 'base'], { cwd: dir })).stdout.trim();
  await client.ok(['update-ref', 'refs/heads/main', base], { cwd: dir });

  // The push: written into a quarantine object directory the way receive-pack keeps it.
  const quarantine = path.join(dir, 'objects', 'tmp_objdir-incoming-test');
  await fs.mkdir(path.join(quarantine, 'pack'), { recursive: true });
  const q = { GIT_OBJECT_DIRECTORY: quarantine, GIT_ALTERNATE_OBJECT_DIRECTORIES: path.join(dir, 'objects') };
  const deeper = await tree([`100644 blob ${await blob('deeper\n', q)}\tx.txt`, `120000 blob ${await blob('x.txt', q)}\ty-link`], q);
  const nested = await tree([`100644 blob ${await blob('nested\n', q)}\tnested.txt`, `040000 tree ${deeper}\tdeeper`], q);
  const root = await tree(
    [
      `100644 blob ${await blob('name: demo\n', q)}\tmlproject.yaml`,
      `100755 blob ${await blob('#!/bin/sh\n', q)}\trun.sh`,
      `120000 blob ${await blob('mlproject.yaml', q)}\tlink`,
      `100644 blob ${await blob('x'.repeat(5000), q)}\tbig.bin`,
      `100644 blob ${await blob(POINTER(OID_A, 10), q)}\tweights.bin`,
      `100644 blob ${await blob(POINTER(OID_B, 20), q)}\tdata.bin`,
      // Pointer-like text past the pointer size limit is an ordinary file.
      `100644 blob ${await blob(POINTER(OID_B, 30) + 'y'.repeat(2000), q)}\tnot-a-pointer.txt`,
      `100644 blob ${await blob('file with a space\n', q)}\twith space.txt`,
      `040000 tree ${nested}\tdir`,
      `160000 commit ${'c'.repeat(40)}\tsub`,
    ],
    q,
  );
  const tip = (await client.run(['commit-tree', root, '-p', base, '-m', 'pushed'], { cwd: dir, env: q })).stdout.trim();
  const sent = (await client.run(['rev-list', '--objects', tip, '--not', base], { cwd: dir, env: q })).stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(0, 40));
  // Half of the objects packed (receive-pack's kept pack, with its .idx), the rest left loose.
  const packed = sent.slice(0, Math.ceil(sent.length / 2));
  await client.run(['pack-objects', '-q', path.join(quarantine, 'pack', 'pack')], { cwd: dir, env: q, input: packed.join('\n') + '\n' });
  for (const oid of packed) await fs.rm(path.join(quarantine, oid.slice(0, 2), oid.slice(2)), { force: true });
  return { git, client, dir, quarantine, tip, sent };
}

async function collect(ids: AsyncIterable<string>): Promise<string[]> {
  const all: string[] = [];
  for await (const id of ids) all.push(id);
  return all;
}

t.test('the pushed objects are listed from the quarantine pack index and its loose objects', async (t) => {
  const pushed = await pushInQuarantine(t);
  const listed = await collect(objectIdsIn(pushed.quarantine));
  t.same([...listed].sort(), [...pushed.sent].sort(), 'exactly the objects the push sent, packed and loose');
  t.same(await collect(objectIdsIn(path.join(pushed.quarantine, 'absent'))), [], 'a missing directory lists nothing');

  const [idx] = (await fs.readdir(path.join(pushed.quarantine, 'pack'))).filter((n) => n.endsWith('.idx'));
  const idxPath = path.join(pushed.quarantine, 'pack', idx!);
  const whole = await fs.readFile(idxPath);
  await fs.writeFile(idxPath, whole.subarray(0, 1100));
  await t.rejects(collect(objectIdsIn(pushed.quarantine)), /is truncated/, 'a cut index is an error, never a short list');
  await fs.writeFile(idxPath, Buffer.concat([Buffer.from('junk'), whole.subarray(4)]));
  await t.rejects(collect(objectIdsIn(pushed.quarantine)), /not a version 2 pack index/);
});

t.test('LFS pointers among the pushed blobs, and null when the push sent nothing of its own', async (t) => {
  const pushed = await pushInQuarantine(t);
  const reader = pushed.git.openPushReader(REPO, { GIT_OBJECT_DIRECTORY: pushed.quarantine });
  t.teardown(() => reader.close());
  const pointers = await reader.pushedLfsPointers();
  t.same(
    [...(pointers ?? [])].sort((a, b) => a.oid.localeCompare(b.oid)),
    [
      { oid: OID_A, size: 10 },
      { oid: OID_B, size: 20 },
    ],
    'both pointers, not the oversized look-alike',
  );

  const none = pushed.git.openPushReader(REPO, {});
  t.teardown(() => none.close());
  t.equal(await none.pushedLfsPointers(), null, 'no quarantine: the caller must walk from the tips');
  const empty = path.join(pushed.dir, 'objects', 'tmp_objdir-incoming-empty');
  await fs.mkdir(empty);
  const emptyReader = pushed.git.openPushReader(REPO, { GIT_OBJECT_DIRECTORY: empty });
  t.teardown(() => emptyReader.close());
  t.equal(await emptyReader.pushedLfsPointers(), null, 'an empty quarantine (a ref-only push) also answers null');
  const outside = pushed.git.openPushReader(REPO, { GIT_OBJECT_DIRECTORY: os.tmpdir() });
  t.teardown(() => outside.close());
  t.equal(await outside.pushedLfsPointers(), null, 'a quarantine path outside the repository is ignored');
});

t.test('one path of a pushed tree answers as ls-tree -l + cat-file did', async (t) => {
  const pushed = await pushInQuarantine(t);
  const reader = pushed.git.openPushReader(REPO, { GIT_OBJECT_DIRECTORY: pushed.quarantine });
  t.teardown(() => reader.close());
  const file = (text: string): FileAtCommit => ({ kind: 'file', size: Buffer.byteLength(text), content: Buffer.from(text) });
  const cases: [string, number, FileAtCommit][] = [
    ['mlproject.yaml', 1000, file('name: demo\n')],
    ['run.sh', 1000, file('#!/bin/sh\n')],
    ['dir/nested.txt', 1000, file('nested\n')],
    ['with space.txt', 1000, file('file with a space\n')],
    ['link', 1000, { kind: 'symlink', size: 'mlproject.yaml'.length }],
    ['big.bin', 4999, { kind: 'too_large', size: 5000 }],
    ['big.bin', 5000, file('x'.repeat(5000))],
    ['dir', 1000, { kind: 'other', size: 0 }],
    ['sub', 1000, { kind: 'other', size: 0 }],
    ['missing.yaml', 1000, { kind: 'missing', size: 0 }],
    ['dir/absent', 1000, { kind: 'missing', size: 0 }],
    ['run.sh/below', 1000, { kind: 'missing', size: 0 }],
    ['dir//nested.txt', 1000, { kind: 'missing', size: 0 }],
    ['*.yaml', 1000, { kind: 'missing', size: 0 }],
    ['MLPROJECT.YAML', 1000, { kind: 'missing', size: 0 }],
  ];
  for (const [filePath, max, expected] of cases) {
    t.same(await reader.fileAt(pushed.tip, filePath, max), expected, `${filePath} (max ${max})`);
  }
  t.same(await reader.fileAt('0'.repeat(40), 'mlproject.yaml', 1000), { kind: 'missing', size: 0 }, 'an unknown commit has no such path');

  // Outside the quarantine the pushed commit does not exist yet: readFileAt of the repository as it stands.
  t.same(await pushed.git.readFileAt(REPO, pushed.tip, 'mlproject.yaml', 1000, {}), { kind: 'missing', size: 0 });
  t.same(await pushed.git.readFileAt(REPO, pushed.tip, 'mlproject.yaml', 1000, { GIT_OBJECT_DIRECTORY: pushed.quarantine }), file('name: demo\n'));
});

t.test('the files under given prefixes answer as ls-tree -r -- <prefixes> (GitBackend.pathIds)', async (t) => {
  const pushed = await pushInQuarantine(t);
  const q = { GIT_OBJECT_DIRECTORY: pushed.quarantine, GIT_ALTERNATE_OBJECT_DIRECTORIES: path.join(pushed.dir, 'objects') };
  const reader = pushed.git.openPushReader(REPO, { GIT_OBJECT_DIRECTORY: pushed.quarantine });
  t.teardown(() => reader.close());
  const lsTree = async (prefixes: string[]) => {
    if (prefixes.length === 0) return [];
    const out = (await pushed.client.run(['ls-tree', '-r', '-z', '--full-tree', pushed.tip, '--', ...prefixes.map((p) => `:(literal)${p}`)], { cwd: pushed.dir, env: q })).stdout;
    return out
      .split('\0')
      .filter(Boolean)
      .map((line) => ({ path: line.slice(line.indexOf('\t') + 1), sha: line.slice(0, line.indexOf('\t')).split(' ')[2] ?? '' }));
  };
  const byPath = (entries: { path: string; sha: string }[] | null) => [...(entries ?? [])].sort((a, b) => a.path.localeCompare(b.path));
  const cases: string[][] = [
    ['dir'],
    ['dir/deeper'],
    ['dir', 'dir/deeper/x.txt'],
    ['mlproject.yaml', 'run.sh', 'link'],
    ['sub'],
    ['with space.txt', 'dir/nested.txt'],
    ['missing', 'dir/absent', 'run.sh/below'],
    ['dir', 'mlproject.yaml', 'sub', 'big.bin'],
    [],
  ];
  for (const prefixes of cases) {
    const expected = await lsTree(prefixes);
    t.same(byPath(await reader.filesUnder(pushed.tip, prefixes, 1000)), byPath(expected), `${JSON.stringify(prefixes)}: ${expected.length} entries`);
  }
  t.same(byPath(await reader.filesUnder(pushed.tip, ['dir'], 3)), byPath(await lsTree(['dir'])), 'exactly at the limit');
  t.equal(await reader.filesUnder(pushed.tip, ['dir'], 2), null, 'past the limit: null, so the caller reads git itself');
  t.equal(await reader.treeId(pushed.tip), (await pushed.client.run(['rev-parse', `${pushed.tip}^{tree}`], { cwd: pushed.dir, env: q })).stdout.trim(), 'the root tree id');
  t.equal(await reader.treeId('0'.repeat(40)), null, 'an unknown commit');
});
