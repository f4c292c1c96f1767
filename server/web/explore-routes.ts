import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal, Repo } from '../domain/model.ts';
import { isReservedOwner } from '../domain/names.ts';
import type { Web } from './context.ts';
import { explorePage, userPage } from './views/explore.ts';
import type { ListedRepo, Paging } from './views/repo-list.ts';

const PER_PAGE = 20;
type ListQuery = { q?: string; kind?: string; page?: string };

/** The start page and explore (search over repos, as GET /api/v1/repos), and a user's repositories. */
export function registerExploreRoutes(app: FastifyInstance, web: Web): void {
  const { repos, runs, accounts } = web.deps;

  /** The same search as the API, plus each repo's latest run on its default branch (one indexed query per row). */
  async function listed(principal: Principal | null, query: { q?: string; owner?: string; kind?: string }, page: number): Promise<{ rows: ListedRepo[]; total: number }> {
    const { repos: found, total } = await repos.list(principal, { ...query, page, perPage: PER_PAGE });
    const rows = await Promise.all(found.map(async (repo: Repo) => ({ repo, latestRun: (await runs.list(repo, { ref: repo.defaultBranch }, 1, 0)).runs[0] ?? null })));
    return { rows, total };
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
    const page = pageNumber(request.query.page);
    const { rows, total } = await listed(await web.principal(request), { q, kind: kind || undefined }, page);
    const title = q ? `Search: ${q}` : 'Explore models and datasets';
    return web.page(request, reply, title, explorePage({ q, kind, total, rows, paging: paging(request, page, total) }), { query: q });
  };
  app.get('/', explore);
  app.get('/explore', explore);

  app.get<{ Params: { owner: string }; Querystring: ListQuery }>('/:owner', async (request, reply) => {
    // `/api`, `/healthz`...: not a user; the server's own 404 answers.
    if (isReservedOwner(request.params.owner)) return reply.callNotFound();
    const user = await accounts.findUser(request.params.owner);
    const principal = await web.principal(request);
    const page = pageNumber(request.query.page);
    const { rows, total } = await listed(principal, { owner: user.username }, page);
    return web.page(request, reply, user.username, userPage({ user, isViewer: principal?.user.id === user.id, total, rows, paging: paging(request, page, total) }));
  });
}

/** Pages are links people edit by hand: anything odd is the first page, not an error. */
function pageNumber(raw: string | undefined): number {
  const page = Number(raw);
  return Number.isInteger(page) && page >= 1 && page <= 100_000 ? page : 1;
}
