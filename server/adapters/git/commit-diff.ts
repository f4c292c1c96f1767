import type { CommitDiff, DiffFile } from '../../domain/ports.ts';
import { runGit, runGitOk } from './run-git.ts';

const SHA = /^[0-9a-f]{40}$/;
/** The empty tree: what a root commit is diffed against. */
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
const MAX_FILES = 1000;
const LFS_SIZE = /^([-+ ])size (\d+)$/;

/**
 * The changes of `to` against `from` (null: against the empty tree, for a root commit): numstat
 * for every file (capped at MAX_FILES), and unified text diffs up to `maxBytes` in total; files
 * past the cap keep their stats without a patch. LFS pointer changes carry the object sizes.
 */
export async function commitDiff(cwd: string, from: string | null, to: string, maxBytes: number): Promise<CommitDiff | null> {
  if (!SHA.test(to) || (from !== null && !SHA.test(from))) return null;
  const base = from ?? EMPTY_TREE;
  const common = ['-c', 'core.quotePath=false', 'diff', '--no-color', '--no-ext-diff', '--no-textconv', '-M'];
  const stats = await runGitOk([...common, '--numstat', '-z', base, to, '--'], { cwd });
  const files: DiffFile[] = [];
  const fields = stats.split('\0');
  for (let i = 0; i < fields.length && files.length < MAX_FILES; ) {
    const head = fields[i++];
    if (!head) continue;
    const [added = '-', deleted = '-', path = ''] = head.split('\t');
    let oldPath = path;
    let newPath = path;
    // A rename: "a\td\t" then the old and the new path as fields of their own.
    if (path === '') {
      oldPath = fields[i++] ?? '';
      newPath = fields[i++] ?? '';
    }
    const binary = added === '-';
    files.push({ path: newPath, oldPath: oldPath !== newPath ? oldPath : null, status: 'modified', additions: binary ? 0 : Number(added), deletions: binary ? 0 : Number(deleted), binary, patch: null, lfs: null });
  }
  const truncatedFiles = fields.filter((f) => /^(\d+|-)\t(\d+|-)\t/.test(f)).length > files.length;
  // The patch, bounded: git runs to the end, but only maxBytes are kept (runGit caps what it buffers).
  const patch = await runGit([...common, '-U3', base, to, '--'], { cwd });
  if (patch.code !== 0) throw new Error(`git diff failed (${patch.code}): ${patch.stderr.trim()}`);
  const text = patch.stdout.subarray(0, maxBytes).toString('utf8');
  const truncated = patch.stdout.length > maxBytes;
  const chunks = text.split(/^(?=diff --git )/m).filter((c) => c.startsWith('diff --git '));
  chunks.forEach((chunk, index) => {
    const file = files[index];
    if (!file) return;
    const complete = index < chunks.length - 1 || !truncated;
    const lines = chunk.split('\n');
    const status = lines.some((l) => l.startsWith('new file mode')) ? 'added' : lines.some((l) => l.startsWith('deleted file mode')) ? 'deleted' : file.oldPath ? 'renamed' : 'modified';
    const hunkStart = lines.findIndex((l) => l.startsWith('@@'));
    const body = hunkStart < 0 ? '' : lines.slice(hunkStart).join('\n');
    files[index] = { ...file, status, patch: complete && body ? body.replace(/\n$/, '') : null, lfs: lfsSizes(body, status) };
  });
  return { from, to, files, truncated: truncated || truncatedFiles };
}

/** "size a -> b" of an LFS pointer's change, when both sides (or the one side there is) are pointers. */
function lfsSizes(body: string, status: DiffFile['status']): DiffFile['lfs'] {
  if (!/^[-+ ]version https:\/\/git-lfs\.github\.com\/spec\/v1$/m.test(body)) return null;
  let before: number | null = null;
  let after: number | null = null;
  for (const line of body.split('\n')) {
    const m = LFS_SIZE.exec(line);
    if (!m) continue;
    if (m[1] !== '+') before = Number(m[2]);
    if (m[1] !== '-') after = Number(m[2]);
  }
  if (status === 'added') before = null;
  if (status === 'deleted') after = null;
  return before === null && after === null ? null : { before, after };
}
