import type { Repo } from '../model.ts';
import type { GitBackend } from '../ports.ts';

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
export async function resolveRevision(git: GitBackend, repo: Repo, revision: string): Promise<string | null> {
  if (!isValidRevision(revision)) return null;
  const refs = await git.refs(repo.id);
  const find = (name: string) => refs.find((r) => r.name === name);
  const wanted = revision === 'HEAD' ? repo.defaultBranch : revision;
  const branch = find(`refs/heads/${wanted}`) ?? (wanted === 'main' ? find(`refs/heads/${repo.defaultBranch}`) : undefined);
  if (branch) return branch.sha;
  // Annotated tags name a tag object: peel it to its commit.
  if (find(`refs/tags/${wanted}`)) return git.resolveCommit(repo.id, `refs/tags/${wanted}`);
  if (!HEX.test(revision)) return null;
  const sha = await git.resolveCommit(repo.id, revision);
  return sha?.startsWith(revision) ? sha : null;
}
