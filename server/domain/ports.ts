import type { Readable, Writable } from 'node:stream';
import type { RefUpdate } from './model.ts';

/** Follow-up work that must not run inside a request (BullMQ on Redis, or in-process). */
export interface JobQueue {
  /** Jobs with the same `jobId` that are still waiting are coalesced into one. */
  enqueue(name: string, data: unknown, options?: { jobId?: string; delayMs?: number }): Promise<void>;
  /** Registers the handler for a job name; a failing handler is retried with backoff up to `attempts`. */
  process(name: string, handler: (data: unknown) => Promise<void>, options?: { concurrency?: number; attempts?: number }): void;
  /** Whether the backing service (Redis) answers within `timeoutMs`; the in-process queue always does. */
  reachable(timeoutMs: number): Promise<boolean>;
  /** Waits until nothing is waiting or running (tests and graceful shutdown). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export type GitService = 'upload-pack' | 'receive-pack';

/** Objects of a push that git holds in quarantine until pre-receive accepts it. */
export interface QuarantineEnv {
  readonly GIT_OBJECT_DIRECTORY?: string;
  readonly GIT_ALTERNATE_OBJECT_DIRECTORIES?: string;
  readonly GIT_QUARANTINE_PATH?: string;
}

export interface GitProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Resolves with the exit code (null when killed) and the last bytes of stderr. */
  readonly exited: Promise<{ code: number | null; stderr: string }>;
  kill(): void;
}

export interface GitRef {
  readonly name: string;
  readonly sha: string;
  readonly type: string;
}

export interface GitCommit {
  readonly sha: string;
  readonly parents: string[];
  readonly author: { name: string; email: string; date: string };
  readonly committer: { name: string; email: string; date: string };
  readonly message: string;
}

export interface GitTreeEntry {
  readonly name: string;
  readonly path: string;
  readonly type: 'blob' | 'tree' | 'commit';
  readonly mode: string;
  readonly sha: string;
  readonly size: number | null;
}

export interface GitBlob {
  readonly sha: string;
  readonly size: number;
  readonly content: Readable;
}

/** A file read from a commit's tree: what kind of entry it is, its size, and its bytes when small enough. */
export interface FileAtCommit {
  /** `other`: a directory or a submodule; `too_large`: a regular file over `maxBytes` (not read). */
  readonly kind: 'file' | 'symlink' | 'other' | 'missing' | 'too_large';
  /** Bytes of the blob (files, symlinks); 0 when missing or not a blob. */
  readonly size: number;
  /** Set for `file` only. */
  readonly content?: Buffer;
}

export interface LfsPointer {
  readonly path: string;
  readonly oid: string;
  readonly size: number;
}

/** Bare repositories on disk, addressed by database id (never by URL text). */
/** An LFS pointer among the objects a push sent (where it sits in the tree is not known). */
export interface PushedPointer {
  readonly oid: string;
  readonly size: number;
}

/** pre-receive's reads of one push (its objects and its commits' trees); close it when done. */
export interface PushReader {
  /** LFS pointers among the objects the push sent; null when it sent none (then only a walk from its tips can tell). */
  pushedLfsPointers(): Promise<PushedPointer[] | null>;
  /** One path of a pushed commit's tree, sized before it is read. */
  fileAt(commitSha: string, path: string, maxBytes: number): Promise<FileAtCommit>;
  /** The id of a pushed commit's root tree (null: not a commit). */
  treeId(commitSha: string): Promise<string | null>;
  /**
   * The files and submodules (not directories) at or under any of `prefixes` in a pushed commit,
   * with their ids, as `git ls-tree -r -- <prefixes>` lists them; null when there are more than `limit`.
   * Bounded, over the reader's process; GitBackend.pathIds is the unbounded listing (one ls-tree).
   */
  filesUnder(commitSha: string, prefixes: readonly string[], limit: number): Promise<{ path: string; sha: string }[] | null>;
  close(): void;
}

export interface GitBackend {
  create(repoId: number, defaultBranch: string): Promise<void>;
  /** A new repo that shares its source's objects on disk (hardlinked local clone). */
  fork(sourceId: number, targetId: number, defaultBranch: string): Promise<void>;
  remove(repoId: number): Promise<void>;
  setDefaultBranch(repoId: number, branch: string): Promise<void>;
  /** Re-installs missing or stale hooks; returns true when something had to be repaired. */
  ensureHooks(repoId: number): Promise<boolean>;
  exists(repoId: number): Promise<boolean>;
  listRepoIds(): Promise<number[]>;
  spawn(repoId: number, service: GitService, options: { advertise: boolean; protocol: string | null; env: Record<string, string> }): GitProcess;
  isAncestor(repoId: number, ancestor: string, descendant: string, quarantine: QuarantineEnv): Promise<boolean>;
  /** Reads a push's objects from its quarantine while pre-receive runs. */
  openPushReader(repoId: number, quarantine: QuarantineEnv): PushReader;
  /** LFS pointer files, with their paths, in the objects a push adds (walked from its tips in its quarantine). */
  newLfsPointers(repoId: number, tips: string[], quarantine: QuarantineEnv): Promise<LfsPointer[]>;
  /** Paths that the commits a push adds touch (read from its quarantine). */
  touchedPaths(repoId: number, tips: string[], quarantine: QuarantineEnv): Promise<string[]>;
  /** What `to` changes against `from` (null: a root commit): stats of each file, text diffs up to `maxBytes` in all. */
  diff(repoId: number, from: string | null, to: string, maxBytes: number): Promise<CommitDiff | null>;
  /** Files that differ between two commits (`from` null: every file of `to`), capped at `limit`. */
  changedPaths(repoId: number, from: string | null, to: string, limit: number): Promise<string[]>;
  /** Object ids of the blobs under these literal path prefixes at a commit ('' = root tree itself). */
  pathIds(repoId: number, commit: string, prefixes: readonly string[]): Promise<{ path: string; sha: string }[]>;
  mergeBase(repoId: number, a: string, b: string): Promise<string | null>;
  /** One path of a commit's tree, sized before it is read (read from the push's quarantine). */
  readFileAt(repoId: number, commitSha: string, path: string, maxBytes: number, quarantine: QuarantineEnv): Promise<FileAtCommit>;
  /** Every path (files and directories) of a commit's tree, at most `limit` of them (read from the push's quarantine). */
  listPaths(repoId: number, commitSha: string, quarantine: QuarantineEnv, limit: number): Promise<string[]>;
  maintain(repoId: number): Promise<void>;
  fsck(repoId: number): Promise<{ ok: boolean; output: string }>;
  refs(repoId: number): Promise<GitRef[]>;
  resolveCommit(repoId: number, ref: string): Promise<string | null>;
  commits(repoId: number, sha: string, limit: number): Promise<GitCommit[]>;
  tree(repoId: number, sha: string, path: string): Promise<GitTreeEntry[] | null>;
  blob(repoId: number, sha: string, path: string): Promise<GitBlob | null>;
  version(): Promise<string>;
  /** Sha of refs/notes/mlproject (the server-owned results notes), or null before the first note. */
  notesHead(repoId: number): Promise<string | null>;
  /**
   * Sets the mlproject note of `commit` to `text` with a compare-and-swap update of
   * refs/notes/mlproject from `expectedHead` (null: the ref must not exist yet). 'unchanged' when
   * the note under `expectedHead` already has this text; 'conflict' when the ref has moved.
   */
  writeNote(repoId: number, note: NoteWrite): Promise<NoteWriteResult>;
  /** The sha a server-owned ref (refs/models/...) points at, or null when it does not exist. */
  readRef(repoId: number, ref: string): Promise<string | null>;
  /**
   * Points a server-owned ref at `commit` with `git update-ref <new> <old>`: only when it still
   * points at `expected` (null: only when it does not exist yet); 'conflict' otherwise.
   */
  updateRef(repoId: number, ref: string, commit: string, expected: string | null): Promise<'written' | 'conflict'>;
}

export const NOTES_REF = 'refs/notes/mlproject';

/** One file of a commit's diff; `patch` is the unified diff from the first `@@` (null: binary, or past the size cap). */
export interface DiffFile {
  readonly path: string;
  /** Set for renames. */
  readonly oldPath: string | null;
  readonly status: 'added' | 'deleted' | 'modified' | 'renamed';
  readonly additions: number;
  readonly deletions: number;
  readonly binary: boolean;
  readonly patch: string | null;
  /** An LFS pointer's change: the object sizes before and after (null on the side where there is none). */
  readonly lfs: { readonly before: number | null; readonly after: number | null } | null;
}

export interface CommitDiff {
  readonly from: string | null;
  readonly to: string;
  readonly files: readonly DiffFile[];
  /** Some patches (or files) were left out to keep within the cap. */
  readonly truncated: boolean;
}

export interface NoteWrite {
  readonly commit: string;
  readonly text: string;
  readonly expectedHead: string | null;
}

export type NoteWriteResult = 'written' | 'unchanged' | 'conflict';

export type { RefUpdate };

/** Where an LFS client should send or fetch bytes itself (presigned URLs: bytes bypass mlgit). */
export interface TransferAction {
  readonly href: string;
  readonly header: Record<string, string>;
  readonly expiresInSeconds: number;
}

export interface StoredObject {
  readonly size: number;
}

/**
 * Content-addressed storage of LFS objects and run outputs, keyed by sha256 oid (64 lowercase
 * hex, validated before any call). Implementations: local files, S3.
 */
export interface ObjectStore {
  /** Whether the store answers within `timeoutMs` (a bucket round trip on S3; the local disk always does). */
  reachable(timeoutMs: number): Promise<boolean>;
  /** Size of a stored, verified object, or null. */
  stat(oid: string): Promise<StoredObject | null>;
  /**
   * Streams `body` in, counting bytes and hashing sha256; rejects (DomainError 'invalid') on a
   * size or hash mismatch, and only a verified object ever becomes visible.
   */
  put(oid: string, size: number, body: import('node:stream').Readable): Promise<void>;
  /** The object's bytes, optionally a byte range [start, end] inclusive. */
  get(oid: string, range?: { start: number; end: number }): Promise<import('node:stream').Readable>;
  delete(oid: string): Promise<void>;
  /** A presigned upload the client performs directly, or null when bytes go through mlgit. */
  presignUpload(oid: string, size: number): Promise<TransferAction | null>;
  /** A presigned download, or null when bytes come through mlgit. */
  presignDownload(oid: string, size: number): Promise<TransferAction | null>;
}

/** Job logs: appended while a run runs (bounded per run), read back and followed by users. */
export interface RunLogStore {
  /**
   * Appends the stream; bytes beyond `maxBytes` in total are dropped after one truncation notice.
   * `batch` names a runner's batch: a store that several server nodes share stores it once, whichever node it reaches.
   */
  append(runId: number, chunk: Readable, maxBytes: number, batch?: string): Promise<{ written: number; truncated: boolean }>;
  size(runId: number): Promise<number>;
  /** The log from byte `start` to its current end, or null when the run has no log yet. */
  read(runId: number, start: number): Promise<Readable | null>;
}
