// Reads the `models:` section of the mlproject.yaml committed at a commit. Registration reads it
// at the run's commit (what the run was told to produce); promotion gates read it at the tip of
// the default branch, never at the version being promoted, so a version cannot lower its own bar.
import { DEFAULT_FILE, DEFAULT_MAX_BYTES, parseManifest, type Manifest } from '../../../schema/manifest.ts';
import type { GitBackend } from '../ports.ts';

/** Parsed manifests by repository and commit: a commit's file never changes, and alias moves read the same tip again and again. */
const parsed = new Map<string, Manifest | null>();
const CACHED = 256;

export async function manifestAt(git: GitBackend, repoId: number, commit: string): Promise<Manifest | null> {
  const key = `${repoId} ${commit}`;
  if (parsed.has(key)) return parsed.get(key)!;
  const file = await git.readFileAt(repoId, commit, DEFAULT_FILE, DEFAULT_MAX_BYTES, {});
  const manifest = file.kind === 'file' && file.content ? parseManifest(file.content.toString('utf8')).manifest : null;
  if (parsed.size >= CACHED) parsed.delete(parsed.keys().next().value!);
  parsed.set(key, manifest);
  return manifest;
}

/** The manifest at the tip of the repository's default branch, or null (no branch, no valid manifest). */
export async function defaultBranchManifest(git: GitBackend, repoId: number, defaultBranch: string): Promise<Manifest | null> {
  const tip = await git.resolveCommit(repoId, `refs/heads/${defaultBranch}`);
  return tip ? manifestAt(git, repoId, tip) : null;
}
