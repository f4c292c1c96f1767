// pre-receive validation of mlproject.yaml (mlproject.md, "Errors"): every new branch or tag tip
// that carries a manifest is parsed against its own pushed tree. Errors reject the push when the
// ref runs jobs (its triggers, or the default branch without triggers); on other refs they are
// shown as warnings. Warnings never block. Everything reaches the pusher as `remote:` lines in
// the format of mlproject.md: a header per pushed commit, then each issue with its code frame.
// The same reading counts the runs the push would start, for the queue limits (RunAdmission).
import {
  DEFAULT_FILE,
  DEFAULT_MAX_BYTES,
  fileIssue,
  formatIssue,
  looseTriggers,
  parseManifest,
  refMatchesTriggers,
  tooLargeIssue,
  type Manifest,
  type ManifestIssue,
} from '../../schema/manifest.ts';
import type { CommitReads, ManifestMemo } from './manifest-memo.ts';
import { type RefUpdate, type Repo, ZERO_SHA } from './model.ts';
import type { GitBackend, PushReader, QuarantineEnv } from './ports.ts';
import { inputScope, MAX_PARAMS_FILE_BYTES, paramsFilePath } from './runs/commit-inputs.ts';
import { countRuns } from './runs/plan.ts';

/** Paths of the pushed tree kept for "path missing from the pushed tree"; bigger trees skip that check. */
export const MAX_TREE_PATHS = 200_000;
/** Input entries of one commit kept for its runs (ManifestMemo); with more, the dispatcher reads them from git. */
const MAX_KEPT_INPUT_ENTRIES = 10_000;

export interface ManifestVerdict {
  readonly ok: boolean;
  readonly messages: string[];
  /** Runs the pushed manifests would start (triggered jobs with their dependencies, matrices expanded). */
  readonly runs: number;
}

interface Checked {
  errors: ManifestIssue[];
  warnings: ManifestIssue[];
  /** The document as data, for its triggers; null when it could not be read (then every ref counts). */
  data: unknown;
  /** The valid manifest, for counting runs; null when it has errors. */
  manifest: Manifest | null;
  /** With a valid manifest: what its runs read of the commit, read here over the push's reader. */
  reads: CommitReads;
}

/** What the gate reads of a pushed commit: its manifest, and for its runs the params file and input ids. */
type CommitReader = Pick<PushReader, 'fileAt' | 'treeId' | 'filesUnder'>;

/** A branch or tag that now points at a commit: the refs whose manifest counts. */
const isNewTip = (ref: string, newSha: string): boolean => newSha !== ZERO_SHA && (ref.startsWith('refs/heads/') || ref.startsWith('refs/tags/'));

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export async function checkPushedManifests(
  git: GitBackend,
  repo: Repo,
  updates: readonly RefUpdate[],
  quarantine: QuarantineEnv,
  reader: CommitReader,
  memo?: ManifestMemo,
): Promise<ManifestVerdict> {
  // One check per pushed commit, however many refs point at it.
  const refsByTip = new Map<string, string[]>();
  for (const { ref, newSha } of updates) {
    if (!isNewTip(ref, newSha)) continue;
    refsByTip.set(newSha, [...(refsByTip.get(newSha) ?? []), ref]);
  }
  let ok = true;
  let runs = 0;
  const messages: string[] = [];
  for (const [tip, refs] of refsByTip) {
    const checked = await checkTip(git, reader, repo.id, tip, quarantine);
    const manifest = checked?.manifest;
    // For post-receive, should this push land: what it would read and parse again.
    memo?.remember(repo.id, tip, checked?.reads ?? { manifest: null });
    if (manifest) {
      for (const ref of refs) {
        const triggered = refMatchesTriggers(manifest, ref, repo.defaultBranch);
        if (triggered.push) runs += countRuns(manifest, triggered.jobs);
      }
    }
    if (!checked || (checked.errors.length === 0 && checked.warnings.length === 0)) continue;
    const triggers = looseTriggers(checked.data);
    const running = refs.filter((ref) => refMatchesTriggers(triggers, ref, repo.defaultBranch).push);
    const where = `${DEFAULT_FILE} in ${refs.join(', ')} (${tip.slice(0, 7)})`;
    const { errors, warnings } = checked;
    if (errors.length === 0) {
      messages.push(`${where}: ${plural(warnings.length, 'warning')}`, ...warnings.map((w) => formatIssue(w)));
    } else if (running.length > 0) {
      ok = false;
      const counts = warnings.length ? `${plural(errors.length, 'error')}, ${plural(warnings.length, 'warning')}` : plural(errors.length, 'error');
      messages.push(`${where}: ${counts}; the push is rejected because ${running.join(', ')} runs jobs`, ...[...errors, ...warnings].map((i) => formatIssue(i)));
    } else {
      messages.push(
        `${where}: ${plural(errors.length, 'error')} shown as warnings, not blocking: ${refs.join(', ')} does not trigger runs (see triggers); a push to a ref that does would be rejected`,
        ...errors.map((e) => formatIssue({ ...e, severity: 'warning' })),
        ...warnings.map((w) => formatIssue(w)),
      );
    }
  }
  return { ok, messages, runs };
}

/** Reads and parses the manifest at one pushed commit; null when it has none. */
async function checkTip(git: GitBackend, reader: CommitReader, repoId: number, tip: string, quarantine: QuarantineEnv): Promise<Checked | null> {
  const found = await reader.fileAt(tip, DEFAULT_FILE, DEFAULT_MAX_BYTES);
  const unreadable = (issue: ManifestIssue): Checked => ({ errors: [issue], warnings: [], data: null, manifest: null, reads: { manifest: null } });
  switch (found.kind) {
    case 'missing':
      return null;
    case 'symlink':
      return unreadable(fileIssue(`${DEFAULT_FILE} is a symbolic link; the manifest must be a regular file at the repository root`));
    case 'other':
      return unreadable(fileIssue(`${DEFAULT_FILE} is a directory or a submodule; the manifest must be a regular file at the repository root`));
    case 'too_large':
      return unreadable(tooLargeIssue(found.size, DEFAULT_MAX_BYTES));
    case 'file':
      break;
  }
  const paths = await git.listPaths(repoId, tip, quarantine, MAX_TREE_PATHS + 1);
  const tree = paths.length > MAX_TREE_PATHS ? null : new Set(paths);
  const result = parseManifest((found.content ?? Buffer.alloc(0)).toString('utf8'), tree ? { treeHasPath: (p) => tree.has(p) } : {});
  const warnings = [...result.warnings];
  if (!tree) warnings.push({ ...fileIssue(`the pushed tree has more than ${MAX_TREE_PATHS} paths; paths in the manifest were not checked against it`), severity: 'warning' });
  const reads = result.manifest ? await readsForRuns(reader, tip, result.manifest) : { manifest: null };
  return { errors: result.errors, warnings, data: result.data, manifest: result.manifest, reads };
}

/**
 * What the run dispatcher reads of a commit (its params file, the ids of its inputs), read now
 * over the push's one cat-file process: after the push lands, creating its runs then starts no
 * git (two processes on the pusher's clock).
 */
async function readsForRuns(reader: CommitReader, tip: string, manifest: Manifest): Promise<CommitReads> {
  const read = await Promise.all([
    reader.fileAt(tip, paramsFilePath(manifest), MAX_PARAMS_FILE_BYTES),
    reader.treeId(tip),
    reader.filesUnder(tip, inputScope(manifest).prefixes, MAX_KEPT_INPUT_ENTRIES),
  ]).catch(() => null);
  // A head start, never a check: whatever could not be read here, the dispatcher reads from git.
  if (!read) return { manifest };
  const [paramsFile, rootTree, entries] = read;
  return entries && rootTree !== null ? { manifest, paramsFile, inputs: { rootTree, entries } } : { manifest, paramsFile };
}
