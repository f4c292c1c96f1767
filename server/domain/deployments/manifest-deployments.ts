// The deployments the default branch's mlproject.yaml declares (`deployments:`), as deploy
// specs: each entry is checked by the same parser as an API request's body, its model defaulting
// to the entry's name and its image to the manifest's.
import { DEFAULT_FILE, DEFAULT_MAX_BYTES, parseManifest } from '../../../schema/manifest.ts';
import { invalid } from '../errors.ts';
import type { Repo } from '../model.ts';
import type { GitBackend } from '../ports.ts';
import { parseDeploySpec, type DeploySpec } from './model.ts';

export interface DeclaredDeployment {
  /** The entry's name under `deployments:`. */
  readonly entry: string;
  readonly spec: DeploySpec & { image: string };
}

/**
 * What the tip of the default branch declares: none without a branch or a manifest; null when
 * its manifest is not valid (pushes refuse that, but a schema change can make an old one so):
 * then the deployments stay as they are.
 */
export async function declaredDeployments(git: GitBackend, repo: Repo): Promise<DeclaredDeployment[] | null> {
  const tip = await git.resolveCommit(repo.id, `refs/heads/${repo.defaultBranch}`);
  if (tip === null) return [];
  const file = await git.readFileAt(repo.id, tip, DEFAULT_FILE, DEFAULT_MAX_BYTES, {});
  if (file.kind === 'missing') return [];
  if (file.kind !== 'file' || !file.content) return null;
  const { manifest } = parseManifest(file.content.toString('utf8'));
  if (manifest === null) return null;
  return Object.entries(manifest.deployments ?? {}).map(([entry, declared]) => {
    const spec = parseDeploySpec({ ...declared, model: declared.model ?? entry });
    const image = spec.image ?? manifest.image;
    // The manifest's own checks refuse an entry with neither.
    if (image === undefined) throw invalid(`deployments.${entry} has no image and the manifest has no top-level image`);
    return { entry, spec: { ...spec, image } };
  });
}
