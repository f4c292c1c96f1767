import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal, Repo } from '../domain/model.ts';
import { commitKey } from '../domain/runs/queries.ts';
import { isReservedOwner } from '../domain/names.ts';
import type { Web } from './context.ts';
import { headlineOf } from './headline.ts';
import { type CardTags, type Facet, FACETS, facetCounts, RepoCards } from './repo-cards.ts';
import { explorePage, userPage } from './views/explore.ts';
import type { ListedRepo, Paging } from './views/repo-list.ts';

const PER_PAGE = 20;
/** Repositories read per query while filtering by card tags. */
const SCAN_PAGE = 100;
/**
 * Card tags live in each repository's README, not in the database: a filter looks at the most
 * recently pushed repositories that match the search, this many at most (the page says so).
 */
export const SCAN_CAP = 2000;
/** Without a filter, the filter links are drawn from the cards of this many most recent repositories. */
const FACET_SAMPLE = 100;
const FACET_VALUES = 8;
const CARD_READS_AT_ONCE = 8;

type ListQuery = { q?: string; kind?: string; page?: string } & Partial<Record<Facet, string>>;
type Search = { q?: string; owner?: string; kind?: string };

/** The start page and explore (search over repos, as GET /api/v1/repos, and card-tag filters), and a user's repositories. */
export function registerExploreRoutes(app: FastifyInstance, web: Web): void {
  const { repos, runs, accounts, git } = web.deps;
  const cards = new RepoCards(git);

  /** Each repo's card, a few reads at a time (a cold cache reads READMEs with git). */
  async function withCards(found: readonly Repo[]): Promise<{ repo: Repo; card: CardTags }[]> {
    const out: { repo: Repo; card: CardTags }[] = [];
    for (let i = 0; i < found.length; i += CARD_READS_AT_ONCE) {
      const chunk = found.slice(i, i + CARD_READS_AT_ONCE);
      out.push(...(await Promise.all(chunk.map(async (repo) => ({ repo, card: await cards.of(repo) })))));
    }
    return out;
  }

  /** The rows of repos: each one's latest run on its default branch and that commit's headline metric (three queries for the page). */
  async function rows(shown: readonly { repo: Repo; card: CardTags }[]): Promise<ListedRepo[]> {
    const latest = await runs.latestOnDefaultBranches(shown.map((s) => s.repo));
    const withRuns = shown.flatMap(({ repo }) => (latest.has(repo.id) ? [{ repo, sha: latest.get(repo.id)!.commitSha }] : []));
    const metrics = await runs.metricsOfCommits(withRuns);
    return shown.map(({ repo, card }) => {
      const latestRun = latest.get(repo.id) ?? null;
      const own = latestRun ? metrics.get(commitKey(repo, latestRun.commitSha)) : undefined;
      return { repo, card, latestRun, headline: own ? headlineOf(own, null) : null };
    });
  }

  /** The search as the API does it; with card filters, the matching repos among the SCAN_CAP most recent. */
  async function listed(principal: Principal | null, search: Search, filters: Partial<Record<Facet, string>>, page: number) {
    const filtering = FACETS.some((f) => filters[f]);
    if (!filtering) {
      const sample = await repos.list(principal, { ...search, page: 1, perPage: FACET_SAMPLE });
      const sampled = await withCards(sample.repos);
      // The first pages are in the sample already; later ones are a query of their own.
      const shown = page * PER_PAGE <= FACET_SAMPLE ? sampled.slice((page - 1) * PER_PAGE, page * PER_PAGE) : await withCards((await repos.list(principal, { ...search, page, perPage: PER_PAGE })).repos);
      return { rows: await rows(shown), total: sample.total, facets: facetCounts(sampled.map((s) => s.card), FACET_VALUES), capped: false };
    }
    const matched: { repo: Repo; card: CardTags }[] = [];
    let scanned = 0;
    let total = 0;
    for (let n = 1; scanned < SCAN_CAP; n++) {
      const batch = await repos.list(principal, { ...search, page: n, perPage: SCAN_PAGE });
      total = batch.total;
      scanned += batch.repos.length;
      for (const entry of await withCards(batch.repos)) if (FACETS.every((f) => !filters[f] || entry.card[f] === filters[f])) matched.push(entry);
      if (batch.repos.length < SCAN_PAGE) break;
    }
    const shown = matched.slice((page - 1) * PER_PAGE, page * PER_PAGE);
    return { rows: await rows(shown), total: matched.length, facets: facetCounts(matched.map((m) => m.card), FACET_VALUES), capped: total > scanned };
  }

  function paging(request: FastifyRequest, page: number, total: number): Paging {
    return {
      page,
      last: Math.max(1, Math.ceil(total / PER_PAGE)),
      url: (n) => {
        const url = new URL(request.url, 'http://x');
        url.searchParams.set('page', String(n));
        return url.pathname + url.search;
      },
    };
  }

  const explore = async (request: FastifyRequest<{ Querystring: ListQuery }>, reply: Parameters<Web['page']>[1]) => {
    const q = (request.query.q ?? '').slice(0, 200);
    const kind = request.query.kind === 'model' || request.query.kind === 'dataset' ? request.query.kind : '';
    const filters: Partial<Record<Facet, string>> = {};
    for (const facet of FACETS) {
      const value = request.query[facet];
      if (typeof value === 'string' && value !== '') filters[facet] = value.slice(0, 200);
    }
    const page = pageNumber(request.query.page);
    const { rows, total, facets, capped } = await listed(await web.principal(request), { q, kind: kind || undefined }, filters, page);
    const title = q ? `Search: ${q}` : 'Explore models and datasets';
    return web.page(request, reply, title, explorePage({ q, kind, filters, facets, capped, total, rows, paging: paging(request, page, total) }), { query: q });
  };
  app.get('/', explore);
  app.get('/explore', explore);

  app.get<{ Params: { owner: string }; Querystring: ListQuery }>('/:owner', async (request, reply) => {
    // `/api`, `/healthz`...: not a user; the server's own 404 answers.
    if (isReservedOwner(request.params.owner)) return reply.callNotFound();
    const user = await accounts.findUser(request.params.owner);
    const principal = await web.principal(request);
    const page = pageNumber(request.query.page);
    const { repos: found, total } = await repos.list(principal, { owner: user.username, page, perPage: PER_PAGE });
    const listedRows = await rows(await withCards(found));
    return web.page(request, reply, user.username, userPage({ user, isViewer: principal?.user.id === user.id, total, rows: listedRows, paging: paging(request, page, total) }));
  });
}

/** Pages are links people edit by hand: anything odd is the first page, not an error. */
function pageNumber(raw: string | undefined): number {
  const page = Number(raw);
  return Number.isInteger(page) && page >= 1 && page <= 100_000 ? page : 1;
}
