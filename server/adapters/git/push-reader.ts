import { MAX_POINTER_BYTES, parseLfsPointer } from '../../../schema/lfs-pointer.ts';
import type { FileAtCommit, PushedPointer, PushReader } from '../../domain/ports.ts';
import { type BatchObject, CatFileBatch } from './cat-file-batch.ts';
import { objectIdsIn } from './object-dir.ts';

/** Requests in flight at once while the pushed objects are sized: a bounded pipe, bounded memory. */
const WINDOW = 1024;
const SYMLINK_MODE = '120000';
const FILE_MODES = new Set(['100644', '100755']);
const TREE_TYPE = 0o040000;
const MISSING: FileAtCommit = { kind: 'missing', size: 0 };

/**
 * pre-receive's reads of one push over one `git cat-file --batch-command` that sees the push's
 * quarantine: the LFS pointer scan and the manifest read share it, where they took four git
 * processes (rev-list, cat-file; ls-tree, cat-file), each a process start on the pusher's clock.
 * The process starts on the first request. With no quarantine it reads the repository as it
 * stands (GitCliBackend.readFileAt).
 */
export class GitPushReader implements PushReader {
  private batch: CatFileBatch | null = null;

  constructor(
    private readonly cwd: string,
    /** The push's validated quarantine environment ({} when it has none). */
    private readonly env: Record<string, string>,
  ) {}

  async pushedLfsPointers(): Promise<PushedPointer[] | null> {
    const quarantine = this.env.GIT_OBJECT_DIRECTORY;
    if (!quarantine) return null;
    const pointers: PushedPointer[] = [];
    let listed = 0;
    let window: string[] = [];
    const scan = async () => {
      const infos = await Promise.all(window.map((oid) => this.ask(oid, false)));
      window = [];
      const small = infos.filter((o): o is BatchObject => o?.type === 'blob' && o.size <= MAX_POINTER_BYTES);
      for (const blob of await Promise.all(small.map((o) => this.ask(o.oid, true)))) {
        const pointer = blob?.content ? parseLfsPointer(blob.content.toString('utf8')) : null;
        if (pointer) pointers.push(pointer);
      }
    };
    for await (const oid of objectIdsIn(quarantine)) {
      listed++;
      window.push(oid);
      if (window.length === WINDOW) await scan();
    }
    if (window.length > 0) await scan();
    return listed === 0 ? null : pointers;
  }

  /** Same answers as `ls-tree -l` then `cat-file blob` (tree-files.ts readFileAt), one tree level per request. */
  async fileAt(commitSha: string, filePath: string, maxBytes: number): Promise<FileAtCommit> {
    const entry = await this.entryAt(commitSha, filePath);
    if (!entry) return MISSING;
    const info = isTree(entry.mode) ? null : await this.ask(entry.oid, false);
    if (info?.type !== 'blob') return { kind: 'other', size: 0 };
    if (entry.mode === SYMLINK_MODE) return { kind: 'symlink', size: info.size };
    if (!FILE_MODES.has(entry.mode)) return { kind: 'other', size: info.size };
    if (info.size > maxBytes) return { kind: 'too_large', size: info.size };
    const blob = await this.ask(entry.oid, true);
    if (!blob?.content) throw new Error(`git cat-file could not read ${entry.oid} (${filePath})`);
    return { kind: 'file', size: info.size, content: blob.content };
  }

  /**
   * Walks only the prefixes' subtrees, a level at a time (the requests of a level share the pipe),
   * and gives up past `limit` files: a prefix over a big directory costs at most that many entries.
   */
  async filesUnder(commitSha: string, prefixes: readonly string[], limit: number): Promise<{ path: string; sha: string }[] | null> {
    const found: { path: string; sha: string }[] = [];
    // A prefix inside another one adds nothing: its files are listed under the outer one.
    const outer = [...new Set(prefixes)].filter((p) => !prefixes.some((q) => q !== p && p.startsWith(`${q}/`)));
    const tops = await Promise.all(outer.map((prefix) => this.entryAt(commitSha, prefix)));
    let trees: { path: string; oid: string }[] = [];
    for (const [i, entry] of tops.entries()) {
      if (entry === null) continue;
      if (isTree(entry.mode)) trees.push({ path: outer[i]!, oid: entry.oid });
      else found.push({ path: outer[i]!, sha: entry.oid });
    }
    while (trees.length > 0) {
      const read = await Promise.all(trees.map((tree) => this.ask(tree.oid, true)));
      const next: { path: string; oid: string }[] = [];
      for (const [i, object] of read.entries()) {
        if (object?.type !== 'tree' || !object.content) throw new Error(`git cat-file could not read tree ${trees[i]!.oid}`);
        for (const entry of entriesOf(object.content)) {
          const path = `${trees[i]!.path}/${entry.name}`;
          if (isTree(entry.mode)) next.push({ path, oid: entry.oid });
          else found.push({ path, sha: entry.oid });
        }
      }
      if (found.length > limit) return null;
      trees = next;
    }
    return found.length > limit ? null : found;
  }

  /** The tree entry at `entryPath` in a commit (null: no such path), read one tree level per request. */
  private async entryAt(commitSha: string, entryPath: string): Promise<{ mode: string; oid: string } | null> {
    const names = entryPath.split('/');
    if (names.some((name) => name === '')) return null;
    let tree = await this.ask(`${commitSha}^{tree}`, true);
    for (const [depth, name] of names.entries()) {
      const entry = tree?.type === 'tree' && tree.content ? entryOf(tree.content, name) : null;
      if (!entry || depth === names.length - 1) return entry;
      if (!isTree(entry.mode)) return null;
      tree = await this.ask(entry.oid, true);
    }
    return null;
  }

  async treeId(commitSha: string): Promise<string | null> {
    const tree = await this.ask(`${commitSha}^{tree}`, false);
    return tree?.type === 'tree' ? tree.oid : null;
  }

  close(): void {
    this.batch?.close();
    this.batch = null;
  }

  private ask(name: string, withContent: boolean): Promise<BatchObject | null> {
    this.batch ??= new CatFileBatch(this.cwd, this.env, () => {});
    return this.batch.ask(name, withContent);
  }
}

const isTree = (mode: string): boolean => (parseInt(mode, 8) & 0o170000) === TREE_TYPE;

/** The entries of a raw tree object ("<mode> <name>\0<20-byte id>" repeated), in its order. */
function* entriesOf(tree: Buffer): Generator<{ mode: string; name: string; oid: string }> {
  for (let at = 0; at < tree.length; ) {
    const space = tree.indexOf(0x20, at);
    const nul = space < 0 ? -1 : tree.indexOf(0, space + 1);
    if (nul < 0 || nul + 21 > tree.length) return;
    yield { mode: tree.toString('latin1', at, space), name: tree.toString('utf8', space + 1, nul), oid: tree.toString('hex', nul + 1, nul + 21) };
    at = nul + 21;
  }
}

/** One entry of a raw tree object, by exact name. */
function entryOf(tree: Buffer, name: string): { mode: string; oid: string } | null {
  for (const entry of entriesOf(tree)) if (entry.name === name) return entry;
  return null;
}
