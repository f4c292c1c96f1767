import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { MAX_POINTER_BYTES, parseLfsPointer } from '../../../schema/lfs-pointer.ts';
import { TreeClash, type CommitIdentity, type HubEntry, type HubGit, type LastCommit, type StagedCommit, type TreeChange } from '../../domain/hf/ports.ts';
import { CatFilePool } from './cat-file-batch.ts';
import { gitEnv, runGit, runGitOk, spawnGit } from './run-git.ts';

const SHA = /^[0-9a-f]{40}$/;
const MAX_TINY_BLOBS = 4096;

/** One `ls-tree -l -z` record: "<mode> <type> <sha> <size>\t<path>". */
interface TreeRecord {
  mode: string;
  type: string;
  sha: string;
  size: number;
  path: string;
}

/**
 * The Hub API's git work, with the git CLI: listings whose LFS pointers are read in one
 * `cat-file --batch`, and commits built the way `git receive-pack` lands a push: objects
 * written into a quarantine directory inside the repository (`tmp_objdir-incoming-*`, which
 * the crash-leftovers sweep knows), checked there, moved in only once accepted.
 */
export class CliHubGit implements HubGit {
  // Lookups and small reads go through long-lived `cat-file --batch-command` processes.
  private readonly batch = new CatFilePool();
  /** Blobs up to pointer size (LFS pointers, small configs), read twice per resolve otherwise: at most ~4 MB. */
  private readonly tinyBlobs = new Map<string, Buffer>();

  constructor(private readonly repoPath: (repoId: number) => string) {}

  async commitOf(repoId: number, name: string): Promise<string | null> {
    if (name.startsWith('-') || name.length > 300) return null;
    const found = await this.batch.info(this.repoPath(repoId), `${name}^{commit}`);
    return found?.type === 'commit' && SHA.test(found.oid) ? found.oid : null;
  }

  async readSmall(repoId: number, oid: string): Promise<Buffer> {
    if (!SHA.test(oid)) throw new Error(`bad blob id ${oid}`);
    // Blobs are content-addressed: a cached one never goes stale (the key holds the repo, for access).
    const key = `${repoId}:${oid}`;
    const cached = this.tinyBlobs.get(key);
    if (cached) return cached;
    const found = await this.batch.contents(this.repoPath(repoId), oid);
    if (!found?.content) throw new Error(`blob ${oid} is missing`);
    if (found.content.length <= MAX_POINTER_BYTES) {
      if (this.tinyBlobs.size >= MAX_TINY_BLOBS) this.tinyBlobs.delete(this.tinyBlobs.keys().next().value!);
      this.tinyBlobs.set(key, found.content);
    }
    return found.content;
  }

  close(): void {
    this.batch.closeAll();
  }

  async list(repoId: number, commit: string, dir: string, recursive: boolean): Promise<HubEntry[] | null> {
    if (!SHA.test(commit)) return null;
    const cwd = this.repoPath(repoId);
    const spec = dir ? `${commit}:${dir}` : `${commit}^{tree}`;
    const type = await runGit(['cat-file', '-t', spec], { cwd });
    if (type.code !== 0 || type.stdout.toString().trim() !== 'tree') return null;
    const args = recursive ? ['ls-tree', '-r', '-t', '-l', '-z', spec] : ['ls-tree', '-l', '-z', spec];
    const records = parseLsTree((await runGitOk(args, { cwd })).toString(), dir);
    return this.withLfs(cwd, records);
  }

  async entry(repoId: number, commit: string, entryPath: string): Promise<HubEntry | null> {
    if (!SHA.test(commit) || !entryPath) return null;
    const cwd = this.repoPath(repoId);
    const found = await this.batch.info(cwd, `${commit}:${entryPath}`);
    if (!found || (found.type !== 'blob' && found.type !== 'tree')) return null;
    if (found.type === 'tree') return { type: 'directory', path: entryPath, oid: found.oid, size: 0 };
    const base = { type: 'file' as const, path: entryPath, oid: found.oid, size: found.size };
    if (found.size > MAX_POINTER_BYTES) return base;
    const pointer = parseLfsPointer((await this.readSmall(repoId, found.oid)).toString('utf8'));
    return pointer ? { ...base, lfs: { oid: pointer.oid, size: pointer.size, pointerSize: found.size } } : base;
  }

  blob(repoId: number, oid: string, range?: { start: number; end: number }): Readable {
    if (!SHA.test(oid)) throw new Error(`bad blob id ${oid}`);
    const child = spawnGit(['cat-file', 'blob', oid], { cwd: this.repoPath(repoId), env: gitEnv(), stdio: [false, true, false] });
    if (!range) return child.stdout!;
    return sliceStream(child.stdout!, range.start, range.end, () => child.kill('SIGKILL'));
  }

  async lastCommits(repoId: number, commit: string, paths: readonly string[]): Promise<Map<string, LastCommit>> {
    const found = new Map<string, LastCommit>();
    if (!SHA.test(commit)) return found;
    const cwd = this.repoPath(repoId);
    // One `git log` per path: paths-info asks about a handful at a time.
    await Promise.all(
      paths.map(async (p) => {
        const out = await runGitOk(['--literal-pathspecs', 'log', '-1', '--format=%H%x00%s%x00%cI', commit, '--', p], { cwd });
        const [id = '', title = '', date = ''] = out.trim().split('\0');
        // The Hub's date format (huggingface_hub parses exactly %Y-%m-%dT%H:%M:%S.%fZ).
        if (SHA.test(id)) found.set(p, { id, title, date: new Date(date).toISOString() });
      }),
    );
    return found;
  }

  async stageCommit(repoId: number, parent: string | null, changes: readonly TreeChange[], message: string, author: CommitIdentity): Promise<StagedCommit> {
    const repo = this.repoPath(repoId);
    const objects = path.join(repo, 'objects');
    const dir = await fs.mkdtemp(path.join(objects, 'tmp_objdir-incoming-hf-'));
    const quarantine = { GIT_OBJECT_DIRECTORY: path.join(dir, 'objects'), GIT_ALTERNATE_OBJECT_DIRECTORIES: objects };
    const discard = () => fs.rm(dir, { recursive: true, force: true });
    try {
      await fs.mkdir(quarantine.GIT_OBJECT_DIRECTORY);
      const env = { ...quarantine, GIT_INDEX_FILE: path.join(dir, 'index') };
      const git = (args: string[], input?: string) => runGitOk(args, { cwd: repo, env, input });
      if (parent) await git(['read-tree', parent]);
      const removed = await this.removedPaths(git, changes);
      const puts = changes.filter((c): c is Extract<TreeChange, { kind: 'put' }> => c.kind === 'put');
      const gone = new Set(removed);
      const kept = (await git(['ls-files', '-z'])).split('\0').filter((p) => p && !gone.has(p));
      assertNoFileFolderClash(kept, puts.map((c) => c.path));
      const blobs = await writeBlobs(dir, puts, (files) => git(['hash-object', '-w', '--no-filters', '--stdin-paths'], files.join('\n') + '\n'));
      const lines = [...removed.map((p) => `0 ${'0'.repeat(40)}\t${p}`), ...puts.map((c, i) => `100644 ${blobs[i]}\t${c.path}`)];
      if (lines.length > 0) await git(['update-index', '--add', '--remove', '--index-info'], lines.join('\n') + '\n');
      const tree = (await git(['write-tree'])).trim();
      const who = { GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email, GIT_COMMITTER_NAME: author.name, GIT_COMMITTER_EMAIL: author.email };
      const sha = (await runGitOk(['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-F', '-'], { cwd: repo, env: { ...env, ...who }, input: message })).trim();
      return { sha, quarantine, publish: () => migrateObjects(quarantine.GIT_OBJECT_DIRECTORY, objects), discard };
    } catch (err) {
      await discard();
      throw err;
    }
  }

  async updateRef(repoId: number, ref: string, newSha: string, oldSha: string): Promise<boolean> {
    if (!SHA.test(newSha) || !SHA.test(oldSha) || !ref.startsWith('refs/heads/')) return false;
    const result = await runGit(['update-ref', ref, newSha, oldSha], { cwd: this.repoPath(repoId) });
    return result.code === 0;
  }

  /** Index paths that deletions remove: a file, or everything under a folder. */
  private async removedPaths(git: (args: string[]) => Promise<string>, changes: readonly TreeChange[]): Promise<string[]> {
    const removed: string[] = [];
    for (const change of changes) {
      if (change.kind === 'delete') removed.push(change.path);
      if (change.kind === 'deleteFolder') {
        const listed = await git(['--literal-pathspecs', 'ls-files', '-z', '--', `${change.path}/`]);
        removed.push(...listed.split('\0').filter(Boolean));
      }
    }
    return removed;
  }

  /** Reads the blobs small enough to be LFS pointers, all in one `cat-file --batch`. */
  private async withLfs(cwd: string, records: TreeRecord[]): Promise<HubEntry[]> {
    const candidates = [...new Set(records.filter((r) => r.type === 'blob' && r.size <= MAX_POINTER_BYTES).map((r) => r.sha))];
    const pointers = new Map<string, { oid: string; size: number }>();
    if (candidates.length > 0) {
      const out = (await runGit(['cat-file', '--batch'], { cwd, input: candidates.join('\n') + '\n' })).stdout;
      for (const { sha, body } of batchRecords(out)) {
        const pointer = parseLfsPointer(body.toString('utf8'));
        if (pointer) pointers.set(sha, pointer);
      }
    }
    return records
      .filter((r) => r.type === 'blob' || r.type === 'tree')
      .map((r) => {
        const pointer = pointers.get(r.sha);
        const base = { type: r.type === 'tree' ? ('directory' as const) : ('file' as const), path: r.path, oid: r.sha, size: r.type === 'tree' ? 0 : r.size };
        return pointer ? { ...base, lfs: { oid: pointer.oid, size: pointer.size, pointerSize: r.size } } : base;
      });
  }
}

/**
 * git's index quietly resolves a name that is both a file (or symlink) and a folder by dropping
 * one of them (`link` replaced by `link/x`): refused instead, so a commit never writes through a
 * symlink nor deletes what it did not name.
 */
function assertNoFileFolderClash(kept: readonly string[], puts: readonly string[]): void {
  const files = new Set([...kept, ...puts]);
  const folders = new Set<string>();
  for (const f of files) for (let slash = f.indexOf('/'); slash > 0; slash = f.indexOf('/', slash + 1)) folders.add(f.slice(0, slash));
  for (const p of puts) {
    if (folders.has(p)) throw new TreeClash(`"${p}" is a folder in the tree and cannot also be a file`);
    for (let slash = p.indexOf('/'); slash > 0; slash = p.indexOf('/', slash + 1)) {
      if (files.has(p.slice(0, slash))) throw new TreeClash(`"${p.slice(0, slash)}" is a file (or symlink) in the tree and cannot also be a folder holding "${p}"`);
    }
  }
}

function parseLsTree(out: string, dir: string): TreeRecord[] {
  return out
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const tab = line.indexOf('\t');
      const [mode = '', type = '', sha = '', size = ''] = line.slice(0, tab).split(/\s+/);
      const name = line.slice(tab + 1);
      return { mode, type, sha, size: size === '-' ? 0 : Number(size), path: dir ? `${dir}/${name}` : name };
    });
}

/** Records of `cat-file --batch` output: "<sha> <type> <size>\n<bytes>\n" each. */
function* batchRecords(out: Buffer): Generator<{ sha: string; body: Buffer }> {
  let offset = 0;
  while (offset < out.length) {
    const headerEnd = out.indexOf(0x0a, offset);
    if (headerEnd < 0) return;
    const [sha = '', type = '', size = '0'] = out.toString('latin1', offset, headerEnd).split(' ');
    if (type === 'missing') {
      offset = headerEnd + 1;
      continue;
    }
    const end = headerEnd + 1 + Number(size);
    yield { sha, body: out.subarray(headerEnd + 1, end) };
    offset = end + 1;
  }
}

/** Writes each put's bytes to a file in the quarantine and hashes them all with one git process. */
async function writeBlobs(dir: string, puts: readonly { content: Buffer }[], hash: (files: string[]) => Promise<string>): Promise<string[]> {
  if (puts.length === 0) return [];
  const files = path.join(dir, 'files');
  await fs.mkdir(files);
  const names = puts.map((_, i) => path.join(files, String(i)));
  for (let i = 0; i < puts.length; i++) await fs.writeFile(names[i]!, puts[i]!.content);
  const shas = (await hash(names)).trim().split('\n');
  if (shas.length !== puts.length || !shas.every((s) => SHA.test(s))) throw new Error('git hash-object did not name every blob');
  return shas;
}

/** What git's tmp_objdir_migrate does: loose objects renamed into the repository (existing ones kept). */
async function migrateObjects(from: string, to: string): Promise<void> {
  for (const fanout of await fs.readdir(from)) {
    if (!/^[0-9a-f]{2}$/.test(fanout)) continue;
    await fs.mkdir(path.join(to, fanout), { recursive: true });
    for (const name of await fs.readdir(path.join(from, fanout))) {
      const target = path.join(to, fanout, name);
      if (await fs.access(target).then(() => true, () => false)) continue;
      await fs.rename(path.join(from, fanout, name), target);
    }
  }
}

/** Bytes [start, end] of a stream; the source is stopped once the range is out. */
function sliceStream(source: Readable, start: number, end: number, stop: () => void): Readable {
  const out = new PassThrough();
  let seen = 0;
  source.on('data', (chunk: Buffer) => {
    const from = Math.max(0, start - seen);
    const to = Math.min(chunk.length, end + 1 - seen);
    seen += chunk.length;
    if (to > from && !out.write(chunk.subarray(from, to))) {
      source.pause();
      out.once('drain', () => source.resume());
    }
    if (seen > end) {
      source.removeAllListeners('data');
      stop();
      out.end();
    }
  });
  source.once('end', () => out.end());
  source.once('error', (err) => out.destroy(err));
  out.once('close', () => {
    if (seen <= end) stop();
  });
  return out;
}
