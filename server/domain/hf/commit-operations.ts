import { OID } from '../lfs.ts';
import { DomainError, invalid } from '../errors.ts';

/**
 * The body of the Hub's commit API (POST api/{type}s/{repo}/commit/{revision}): NDJSON, one
 * `{"key", "value"}` per line: a `header` (summary, description, parentCommit), then `file`
 * (base64 content), `lfsFile` (an object uploaded through the LFS batch API), `deletedFile`,
 * `deletedFolder`. Everything is checked here, before any git work: a refused body commits nothing.
 */
export interface CommitRequest {
  readonly summary: string;
  readonly description: string;
  readonly parentCommit: string | null;
  readonly files: readonly { path: string; content: Buffer }[];
  readonly lfsFiles: readonly { path: string; oid: string; size: number }[];
  readonly deletedFiles: readonly string[];
  readonly deletedFolders: readonly string[];
}

export interface CommitLimits {
  /** Operations in one commit. */
  readonly maxOperations: number;
  /** Decoded bytes of all inline (`file`) contents together. */
  readonly maxInlineBytes: number;
}

export const DEFAULT_COMMIT_LIMITS: CommitLimits = { maxOperations: 10_000, maxInlineBytes: 64 * 1024 * 1024 };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const SHA_PREFIX = /^[0-9a-f]{7,40}$/;
const MAX_SUMMARY = 1000;
const MAX_DESCRIPTION = 64 * 1024;

/** A path as the commit may write it: relative, `/`-separated, no `.`, `..` or `.git` segments, no control characters. */
export function commitPath(value: unknown): string {
  if (typeof value !== 'string') throw invalid('every operation needs a "path" string');
  const path = value.replace(/^\/+/, '');
  // eslint-disable-next-line no-control-regex -- control characters are what is refused here
  if (path === '' || path.length > 4096 || /[\x00-\x1f\x7f\\]/.test(path) || path.endsWith('/')) throw invalid(`invalid path ${JSON.stringify(value)}`);
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) throw invalid(`invalid path ${JSON.stringify(value)}: empty, "." and ".." segments are not allowed`);
  if (segments.some((s) => s.toLowerCase() === '.git')) throw invalid(`invalid path ${JSON.stringify(value)}: ".git" is not a path in a repository`);
  return path;
}

function text(value: unknown, what: string, max: number): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw invalid(`${what} must be a string`);
  if (value.length > max) throw new DomainError('too_large', `${what} is longer than ${max} characters`);
  return value;
}

export function parseCommitRequest(body: string, limits: CommitLimits = DEFAULT_COMMIT_LIMITS): CommitRequest {
  const lines = body.split('\n').filter((line) => line.trim() !== '');
  if (lines.length === 0) throw invalid('empty commit body: expected NDJSON lines, the first a "header"');
  if (lines.length - 1 > limits.maxOperations) throw new DomainError('too_large', `at most ${limits.maxOperations} operations in one commit`);
  const parsed = lines.map((line, i) => {
    try {
      const item = JSON.parse(line) as { key?: unknown; value?: unknown };
      if (typeof item !== 'object' || item === null || typeof item.key !== 'string' || typeof item.value !== 'object' || item.value === null) throw new Error('not {key, value}');
      return { key: item.key, value: item.value as Record<string, unknown> };
    } catch {
      throw invalid(`line ${i + 1} is not a JSON object {"key": ..., "value": {...}}`);
    }
  });
  const [header, ...operations] = parsed;
  if (header!.key !== 'header') throw invalid('the first line must be the "header"');
  const parentCommit = header!.value.parentCommit;
  if (parentCommit !== undefined && parentCommit !== null && (typeof parentCommit !== 'string' || !SHA_PREFIX.test(parentCommit))) throw invalid('parentCommit must be a commit id');
  const request = {
    summary: text(header!.value.summary, 'summary', MAX_SUMMARY).trim() || 'Upload files with huggingface_hub',
    description: text(header!.value.description, 'description', MAX_DESCRIPTION),
    parentCommit: (parentCommit as string | undefined) ?? null,
    files: [] as { path: string; content: Buffer }[],
    lfsFiles: [] as { path: string; oid: string; size: number }[],
    deletedFiles: [] as string[],
    deletedFolders: [] as string[],
  };
  const seen = new Set<string>();
  let inlineBytes = 0;
  for (const { key, value } of operations) {
    const path = commitPath(value.path);
    if (seen.has(path)) throw invalid(`"${path}" appears twice in one commit`);
    seen.add(path);
    if (key === 'file') {
      if (value.encoding !== undefined && value.encoding !== 'base64') throw invalid(`"${path}": only base64 content is supported`);
      const content = value.content;
      if (typeof content !== 'string' || !BASE64.test(content) || content.length % 4 === 1) throw invalid(`"${path}": content must be base64`);
      // Counted before decoding: a huge body is refused without allocating its bytes twice.
      inlineBytes += Math.floor((content.length * 3) / 4);
      if (inlineBytes > limits.maxInlineBytes) throw new DomainError('too_large', `inline file contents exceed ${limits.maxInlineBytes} bytes; upload large files through LFS (preupload says which)`);
      request.files.push({ path, content: Buffer.from(content, 'base64') });
    } else if (key === 'lfsFile') {
      if (value.algo !== undefined && value.algo !== 'sha256') throw invalid(`"${path}": LFS objects are sha256`);
      if (typeof value.oid !== 'string' || !OID.test(value.oid)) throw invalid(`"${path}": oid must be 64 lowercase hex characters (sha256)`);
      if (typeof value.size !== 'number' || !Number.isSafeInteger(value.size) || value.size < 0) throw invalid(`"${path}": size must be a non-negative integer`);
      request.lfsFiles.push({ path, oid: value.oid, size: value.size });
    } else if (key === 'deletedFile') {
      request.deletedFiles.push(path);
    } else if (key === 'deletedFolder') {
      request.deletedFolders.push(path);
    } else {
      throw invalid(`unknown operation "${key}" (mlgit supports file, lfsFile, deletedFile, deletedFolder)`);
    }
  }
  // A folder deleted and a file written below it in one commit: ambiguous, refused.
  for (const folder of request.deletedFolders) {
    const inside = [...seen].find((p) => p.startsWith(`${folder}/`));
    if (inside) throw invalid(`"${inside}" is inside the deleted folder "${folder}"`);
  }
  return request;
}
