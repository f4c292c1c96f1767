// Which refs a push runs jobs for (mlproject.md, `triggers`), and whether its changed paths
// pass the path filters. Pure: the dispatcher and pre-receive call these with what git told them.
import { matchesAnyGlob, pathMatchesGlob } from './globs.ts';
import { isRecord } from './plain-data.ts';
import type { Manifest } from './types.ts';

export type Triggers = NonNullable<Manifest['triggers']>;

export interface TriggerMatch {
  /** Whether a push of this ref starts runs. */
  push: boolean;
  /** The jobs it starts; null means every job. Empty when `push` is false. */
  jobs: string[] | null;
}

const noRun = (): TriggerMatch => ({ push: false, jobs: [] });

/**
 * `refs/heads/<b>` against `triggers.push` (branches, then branches_ignore), `refs/tags/<t>`
 * against `triggers.tag`. Without a `triggers` section only pushes to the default branch run,
 * and they run every job. Other refs never run anything.
 */
export function refMatchesTriggers(manifest: { triggers?: Manifest['triggers'] }, ref: string, defaultBranch: string): TriggerMatch {
  const triggers = manifest.triggers;
  if (ref.startsWith('refs/heads/')) {
    const branch = ref.slice('refs/heads/'.length);
    if (!triggers) return branch === defaultBranch ? { push: true, jobs: null } : noRun();
    const push = triggers.push;
    if (!push) return noRun();
    if (push.branches && !matchesAnyGlob(push.branches, branch)) return noRun();
    if (push.branches_ignore && matchesAnyGlob(push.branches_ignore, branch)) return noRun();
    return { push: true, jobs: push.jobs ? [...push.jobs] : null };
  }
  if (ref.startsWith('refs/tags/')) {
    const tag = triggers?.tag;
    if (!tag) return noRun();
    if (tag.tags && !matchesAnyGlob(tag.tags, ref.slice('refs/tags/'.length))) return noRun();
    return { push: true, jobs: tag.jobs ? [...tag.jobs] : null };
  }
  return noRun();
}

/**
 * Whether a push that changed `changedPaths` passes a path filter: some changed path matches
 * `paths` (when given) and no pattern of `paths_ignore`. Without either filter every push passes;
 * with a filter, a push that changed nothing does not.
 */
export function pathsMatch(filter: { paths?: readonly string[]; paths_ignore?: readonly string[] }, changedPaths: readonly string[]): boolean {
  const { paths, paths_ignore: ignore } = filter;
  if (!paths && !ignore) return true;
  return changedPaths.some(
    (p) => (!paths || paths.some((pattern) => pathMatchesGlob(pattern, p))) && !(ignore && ignore.some((pattern) => pathMatchesGlob(pattern, p))),
  );
}

/** A list of strings, or undefined when the value is anything else (so a filter is dropped, not guessed). */
function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;
}

/**
 * The triggers of a manifest that may not have validated (`ParseResult.data`), read so that a
 * doubt counts as "this ref runs jobs": pre-receive blocks on errors only for such refs, and a
 * broken manifest must not slip through because its triggers are broken too. A document that is
 * not a mapping (unreadable YAML) triggers on every ref; a malformed filter matches everything;
 * a malformed ignore list ignores nothing.
 */
export function looseTriggers(data: unknown): { triggers?: Triggers } {
  const everything: Triggers = { push: {}, tag: {} };
  if (!isRecord(data)) return { triggers: everything };
  if (!('triggers' in data) || data.triggers === undefined) return {};
  const t = data.triggers;
  if (!isRecord(t)) return { triggers: everything };
  const triggers: Triggers = {};
  if ('push' in t) {
    const push = isRecord(t.push) ? t.push : {};
    triggers.push = { branches: stringList(push.branches), branches_ignore: stringList(push.branches_ignore) };
  }
  if ('tag' in t) {
    const tag = isRecord(t.tag) ? t.tag : {};
    triggers.tag = { tags: stringList(tag.tags) };
  }
  return { triggers };
}
