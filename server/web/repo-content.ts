import type { Readable } from 'node:stream';
import { parseLfsPointer } from '../../schema/lfs-pointer.ts';
import { notFound } from '../domain/errors.ts';
import type { Repo } from '../domain/model.ts';
import type { GitBackend, GitTreeEntry } from '../domain/ports.ts';

/** Files bigger than this are not shown inline (a link to download them instead). */
export const MAX_VIEW_BYTES = 1024 * 1024;
// git's own binary test (xdiff): a NUL byte in the first 8000 bytes.
const BINARY_PROBE = 8000;
// A pointer without extensions is 126-145 bytes; only blobs about that size are read to check.
const POINTER_SIZES = { min: 120, max: 200 };
const MAX_POINTER_READS = 100;

export type FileContent =
  | { readonly kind: 'text'; readonly sha: string; readonly size: number; readonly text: string }
  | { readonly kind: 'lfs'; readonly sha: string; readonly size: number; readonly oid: string; readonly objectSize: number; readonly text: string }
  | { readonly kind: 'binary' | 'too_large'; readonly sha: string; readonly size: number };

/** The commit a ref names in the repo, or a 404. */
export async function commitOf(git: GitBackend, repo: Repo, ref: string): Promise<string> {
  const sha = await git.resolveCommit(repo.id, ref);
  if (!sha) throw notFound(`ref "${ref}"`);
  return sha;
}

/** A file at a commit, read only when it is small enough to show; null when there is no such file. */
export async function readFile(git: GitBackend, repoId: number, commit: string, path: string): Promise<FileContent | null> {
  const blob = await git.blob(repoId, commit, path);
  if (!blob) return null;
  if (blob.size > MAX_VIEW_BYTES) {
    // Never read: destroying the pipe ends `git cat-file`.
    blob.content.destroy();
    return { kind: 'too_large', sha: blob.sha, size: blob.size };
  }
  const bytes = await readAll(blob.content);
  if (bytes.subarray(0, BINARY_PROBE).includes(0)) return { kind: 'binary', sha: blob.sha, size: blob.size };
  const text = bytes.toString('utf8');
  const pointer = parseLfsPointer(text);
  if (pointer) return { kind: 'lfs', sha: blob.sha, size: blob.size, oid: pointer.oid, objectSize: pointer.size, text };
  return { kind: 'text', sha: blob.sha, size: blob.size, text };
}

/** Which entries of a directory are LFS pointers, with the size of the object each names. */
export async function lfsSizes(git: GitBackend, repoId: number, commit: string, entries: readonly GitTreeEntry[]): Promise<Map<string, number>> {
  const candidates = entries
    .filter((e) => e.type === 'blob' && e.size !== null && e.size >= POINTER_SIZES.min && e.size <= POINTER_SIZES.max)
    .slice(0, MAX_POINTER_READS);
  const sizes = new Map<string, number>();
  await Promise.all(
    candidates.map(async (entry) => {
      const file = await readFile(git, repoId, commit, entry.path);
      if (file?.kind === 'lfs') sizes.set(entry.path, file.objectSize);
    }),
  );
  return sizes;
}

/** The README of a directory listing (README.md first, as Hugging Face and GitHub pick it). */
export function findReadme(entries: readonly GitTreeEntry[]): GitTreeEntry | undefined {
  const files = entries.filter((e) => e.type === 'blob');
  return files.find((e) => e.name === 'README.md') ?? files.find((e) => /^readme\.(md|markdown)$/i.test(e.name));
}

export function isMarkdown(path: string): boolean {
  return /\.(md|markdown)$/i.test(path);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
