import type { Repo } from '../model.ts';
import type { HubGit } from './ports.ts';

// What the Hub accepts as a revision: a branch, a tag or a commit id, never a git expression
// (`main~1`, `HEAD@{1}`, `main:path`), so nothing but those three can reach `git rev-parse`.
const REF_NAME = /^[A-Za-z0-9_][A-Za-z0-9._\-/]*$/;
const HEX = /^[0-9a-f]{4,40}$/;

export function isValidRevision(revision: string): boolean {
  return (
    revision.length <= 255 &&
    REF_NAME.test(revision) &&
    !revision.includes('..') &&
    !revision.includes('//') &&
    !revision.endsWith('/') &&
    !revision.endsWith('.lock')
  );
}

/**
 * The commit a Hub revision names: a branch, then a tag, then a (short) commit id. `main` also
 * names the default branch of a repository that has no `main` (HF clients default to `main`);
 * `HEAD` names the default branch. Null when there is no such revision.
 */
export async function resolveRevision(refs: Pick<HubGit, 'commitOf'>, repo: Repo, revision: string): Promise<string | null> {
  if (!isValidRevision(revision)) return null;
  const wanted = revision === 'HEAD' ? repo.defaultBranch : revision;
  const branch = (await refs.commitOf(repo.id, `refs/heads/${wanted}`)) ?? (wanted === 'main' && repo.defaultBranch !== 'main' ? await refs.commitOf(repo.id, `refs/heads/${repo.defaultBranch}`) : null);
  if (branch) return branch;
  const tag = await refs.commitOf(repo.id, `refs/tags/${wanted}`);
  if (tag) return tag;
  if (!HEX.test(revision)) return null;
  const sha = await refs.commitOf(repo.id, revision);
  return sha?.startsWith(revision) ? sha : null;
}
