// api/models/{repo_id}[/revision/{revision}] and api/models (search), and the same for datasets:
// what modelInfo, datasetInfo, listModels and snapshotDownload read.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DownloadCounter } from '../../domain/hf/downloads.ts';
import type { HubGit } from '../../domain/hf/ports.ts';
import type { HubRepoInfo } from '../../domain/hf/repo-info.ts';
import { resolveRevision } from '../../domain/hf/revisions.ts';
import type { Repo, RepoKind } from '../../domain/model.ts';
import type { RepoOrder } from '../../domain/repos.ts';
import { baseUrl } from '../api/present.ts';
import { badRequest, revisionNotFound } from './hub-errors.ts';
import { hubRepo, type HubRepoDeps, type HubRepoParams } from './hub-repo.ts';
import { presentHubRepo, presentSibling } from './hub-present.ts';

export interface InfoDeps extends HubRepoDeps {
  readonly hubGit: HubGit;
  readonly info: HubRepoInfo;
  readonly downloads: DownloadCounter;
  readonly publicUrl: string | null;
}

type InfoQuery = { blobs?: string; expand?: string | string[] };
type ListQuery = {
  search?: string;
  author?: string;
  filter?: string | string[];
  limit?: string;
  page?: string;
  full?: string;
  expand?: string | string[];
  sort?: string;
  direction?: string;
};

/** The Hub's sort keys mlgit can order by; the others (likes, trending...) it does not keep. */
const SORTS: Record<string, RepoOrder['by']> = { lastModified: 'pushed', createdAt: 'created', id: 'name', downloads: 'downloads' };

/** `sort` and `direction` as the Hub reads them: descending unless a direction other than -1 is given. */
function orderOf(query: ListQuery): RepoOrder | undefined {
  if (query.sort === undefined) return undefined;
  const by = SORTS[query.sort];
  if (!by) throw badRequest(`sort=${query.sort} is not supported by mlgit; use ${Object.keys(SORTS).join(', ')}`);
  return { by, direction: query.direction === undefined || query.direction === '-1' ? 'desc' : 'asc' };
}

const MAX_LIMIT = 1000;

export function registerInfoRoutes(app: FastifyInstance, deps: InfoDeps): void {
  for (const [plural, kind] of [['models', 'model'], ['datasets', 'dataset']] as const) {
    const info = (request: FastifyRequest<{ Params: HubRepoParams & { revision?: string }; Querystring: InfoQuery }>) => repoInfo(deps, kind, request);
    app.get(`/api/${plural}/:owner/:repo`, info);
    app.get(`/api/${plural}/:owner/:repo/revision/:revision`, info);
    app.get(`/api/${plural}`, (request: FastifyRequest<{ Querystring: ListQuery }>, reply) => listRepos(deps, kind, request, reply));
  }
}

async function repoInfo(deps: InfoDeps, kind: RepoKind, request: FastifyRequest<{ Params: HubRepoParams & { revision?: string }; Querystring: InfoQuery }>) {
  const { repo } = await hubRepo(deps, request, kind, request.params, 'read');
  const revision = request.params.revision ?? 'HEAD';
  const commit = await resolveRevision(deps.hubGit, repo, revision);
  // An empty repository has no commit yet: its info says so (sha null) rather than failing.
  const empty = !commit && (revision === 'HEAD' || revision === repo.defaultBranch) && !(await deps.git.refs(repo.id)).length;
  if (!commit && !empty) throw revisionNotFound(revision);
  const blobs = request.query.blobs === 'true' || request.query.blobs === '1';
  const [entries, card] = commit ? await Promise.all([deps.info.allEntries(repo, commit), deps.info.card(repo, commit)]) : [[], null];
  return {
    ...presentHubRepo(repo, { sha: commit, downloads: deps.downloads.of(repo), card: card ?? { cardData: null, tags: [], libraryName: null, pipelineTag: null } }),
    siblings: entries.filter((e) => e.type === 'file').map((e) => presentSibling(e, blobs)),
    spaces: [],
  };
}

/**
 * The search: mlgit's repository search (name and description, by relevance then newest push, or
 * in the `sort` order), only what the caller may see; `filter` keeps repos whose card has every
 * tag asked for (checked page by page).
 */
async function listRepos(deps: InfoDeps, kind: RepoKind, request: FastifyRequest<{ Querystring: ListQuery }>, reply: FastifyReply) {
  const { search, author } = request.query;
  const limit = request.query.limit === undefined ? MAX_LIMIT : Number(request.query.limit);
  const page = request.query.page === undefined ? 1 : Number(request.query.page);
  if (!Number.isSafeInteger(limit) || limit < 1) throw badRequest('limit must be a positive integer');
  if (!Number.isSafeInteger(page) || page < 1 || page > 100_000) throw badRequest('page must be a positive integer');
  const filters = [request.query.filter ?? []].flat().flatMap((f) => f.split(',')).filter(Boolean);
  const principal = await deps.authenticate(request);
  const perPage = Math.min(limit, MAX_LIMIT);
  const order = orderOf(request.query);
  const { repos, total } = await deps.repos.list(principal, { q: search, owner: author, kind, page, perPage, ...(order ? { order } : {}) });
  const shown = await Promise.all(repos.map((repo) => listed(deps, repo)));
  if (page * perPage < total) {
    const next = new URL(request.url, baseUrl(request, deps.publicUrl) + '/');
    next.searchParams.set('page', String(page + 1));
    next.searchParams.set('limit', String(perPage));
    reply.header('Link', `<${next.toString()}>; rel="next"`);
  }
  reply.header('X-Total-Count', String(total));
  return shown.filter((item) => filters.every((f) => item.tags?.includes(f)));
}

async function listed(deps: InfoDeps, repo: Repo) {
  const commit = await resolveRevision(deps.hubGit, repo, 'HEAD');
  const card = commit ? await deps.info.card(repo, commit) : { cardData: null, tags: [], libraryName: null, pipelineTag: null };
  return presentHubRepo(repo, { sha: commit, downloads: deps.downloads.of(repo), card });
}
