import { literalPrefix, type Manifest } from '../../../schema/manifest.ts';

/** The params file of a manifest (params.file, else params.yaml) is read up to this size; a bigger one counts as none. */
export const MAX_PARAMS_FILE_BYTES = 256 * 1024;

export function paramsFilePath(manifest: Manifest): string {
  return manifest.params?.file ?? 'params.yaml';
}

/** A file or submodule of a commit's tree with its object id (what `git ls-tree -r` lists). */
export interface PathId {
  readonly path: string;
  readonly sha: string;
}

/**
 * What of a commit's tree the runs of a manifest depend on, for their cache keys: the literal
 * prefixes of the jobs' `inputs` and of the in-repository datasets (never ''), and whether some
 * job takes the whole tree (no `inputs`, or an input with no literal prefix).
 */
export function inputScope(manifest: Manifest): { prefixes: string[]; wholeTree: boolean } {
  const patterns = new Set<string>();
  for (const job of Object.values(manifest.jobs)) for (const p of job.inputs ?? []) patterns.add(p);
  for (const d of Object.values(manifest.datasets ?? {})) if (!d.repo) patterns.add(d.path);
  // '' (a pattern such as **/*.py) is the whole tree, which `wholeTree` covers: listing it as a
  // prefix would list every file, so it is left out and the other patterns still get their files.
  const prefixes = [...new Set([...patterns].map(literalPrefix))].filter((prefix) => prefix !== '');
  const wholeTree = Object.values(manifest.jobs).some((job) => !job.inputs || job.inputs.length === 0 || job.inputs.some((p) => literalPrefix(p) === ''));
  return { prefixes, wholeTree };
}

/** Whether `path` is `prefix` or lies under it (path components, as a git pathspec matches). */
export function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}
