import type { Repo } from '../domain/model.ts';
import type { GitBackend } from '../domain/ports.ts';
import { splitFrontMatter } from './render/front-matter.ts';
import { LruCache } from './render/lru.ts';
import { readFile } from './repo-content.ts';

/** The card fields explore filters on and shows per row. */
export interface CardTags {
  readonly task: string | null;
  readonly library: string | null;
  readonly license: string | null;
  readonly tags: readonly string[];
}

export const FACETS = ['task', 'library', 'license'] as const;
export type Facet = (typeof FACETS)[number];

const NO_CARD: CardTags = { task: null, library: null, license: null, tags: [] };
const CACHE_CHARS = 4_000_000;
const TAGS_SHOWN = 8;

/**
 * The front matter of each repository's README on its default branch, as explore needs it. Kept
 * per (repo, default branch, last push): a push or a new default branch is a new key, so nothing
 * is ever stale, and a page of explore with a warm cache reads no git at all.
 */
export class RepoCards {
  private readonly cache = new LruCache(CACHE_CHARS);

  constructor(private readonly git: GitBackend) {}

  async of(repo: Repo): Promise<CardTags> {
    return this.cache.rememberJson(`${repo.id}\0${repo.defaultBranch}\0${repo.pushedAt?.getTime() ?? 0}`, () => this.read(repo));
  }

  private async read(repo: Repo): Promise<CardTags> {
    if (repo.pushedAt === null) return NO_CARD;
    const commit = await this.git.resolveCommit(repo.id, repo.defaultBranch);
    const readme = commit ? await readFile(this.git, repo.id, commit, 'README.md') : null;
    const meta = readme?.kind === 'text' ? splitFrontMatter(readme.text).meta : null;
    if (!meta) return NO_CARD;
    return { task: meta.pipeline_tag ?? null, library: meta.library_name ?? null, license: meta.license ?? null, tags: meta.tags.slice(0, TAGS_SHOWN) };
  }
}

/** The most common values of each facet among some cards, for the filter links (with counts). */
export function facetCounts(cards: readonly CardTags[], most: number): Record<Facet, [string, number][]> {
  const out = {} as Record<Facet, [string, number][]>;
  for (const facet of FACETS) {
    const counts = new Map<string, number>();
    for (const card of cards) {
      const value = card[facet];
      if (value) counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    out[facet] = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, most);
  }
  return out;
}
