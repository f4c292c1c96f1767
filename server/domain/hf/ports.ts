import type { Readable } from 'node:stream';
import type { QuarantineEnv } from '../ports.ts';

/** A file or directory of a commit's tree as the Hub lists it (`oid`: the git object id). */
export interface HubEntry {
  readonly type: 'file' | 'directory';
  readonly path: string;
  readonly oid: string;
  /** Bytes of the blob as git stores it (the pointer for LFS files); 0 for directories. */
  readonly size: number;
  /** Set when the blob is a Git LFS pointer: the object it names and the pointer's own size. */
  readonly lfs?: { readonly oid: string; readonly size: number; readonly pointerSize: number };
}

/** The last commit that touched a path (the Hub's `lastCommit` of paths-info). */
export interface LastCommit {
  readonly id: string;
  readonly title: string;
  readonly date: string;
}

/** One change of a commit made through the Hub API, already validated (see commit-operations.ts). */
export type TreeChange =
  | { readonly kind: 'put'; readonly path: string; readonly content: Buffer }
  | { readonly kind: 'delete'; readonly path: string }
  | { readonly kind: 'deleteFolder'; readonly path: string };

/** A commit whose paths would make one name both a file and a folder (e.g. writing through a symlink). */
export class TreeClash extends Error {}

export interface CommitIdentity {
  readonly name: string;
  readonly email: string;
}

/** A commit written into a private object directory: nothing the repository serves until `publish`. */
export interface StagedCommit {
  readonly sha: string;
  /** Where its objects are, for the pre-receive checks (the same env a push's quarantine gives). */
  readonly quarantine: QuarantineEnv;
  /** Moves the objects into the repository (before the ref moves); then `discard` is a no-op. */
  publish(): Promise<void>;
  /** Removes the private object directory (always call it, published or not). */
  discard(): Promise<void>;
}

/** What the Hub API needs from git beyond GitBackend: trees with LFS details, and commits built from files. */
export interface HubGit {
  /** Entries under `dir` ('' = root) at a commit, recursively or not; null when `dir` is not a directory. */
  list(repoId: number, commit: string, dir: string, recursive: boolean): Promise<HubEntry[] | null>;
  /** The commit a ref or object name (`refs/heads/x`, `refs/tags/x`, a commit id prefix) names, peeled; null when none or ambiguous. */
  commitOf(repoId: number, name: string): Promise<string | null>;
  /** One path at a commit, or null when there is no file or directory there. */
  entry(repoId: number, commit: string, path: string): Promise<HubEntry | null>;
  /** The bytes of a small blob (the caller knows its size from `entry`), read without a git process of its own. */
  readSmall(repoId: number, oid: string): Promise<Buffer>;
  /** The bytes of a blob by id (a range [start, end] inclusive when given). */
  blob(repoId: number, oid: string, range?: { start: number; end: number }): Readable;
  /** The last commit at or before `commit` that touched each path. */
  lastCommits(repoId: number, commit: string, paths: readonly string[]): Promise<Map<string, LastCommit>>;
  /** Writes `changes` on top of `parent` (null: an empty repository) as one commit, in quarantine. */
  stageCommit(repoId: number, parent: string | null, changes: readonly TreeChange[], message: string, author: CommitIdentity): Promise<StagedCommit>;
  /** Ends the long-lived git processes (server shutdown). */
  close(): void;
  /** Compare-and-swap of a ref: false when it is no longer at `oldSha` (ZERO_SHA: must not exist). */
  updateRef(repoId: number, ref: string, newSha: string, oldSha: string): Promise<boolean>;
}
