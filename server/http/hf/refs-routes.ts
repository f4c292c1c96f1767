// api/{type}s/{repo}/refs (list_repo_refs) and api/{type}s/{repo}/commits/{revision} (listCommits,
// list_repo_commits).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HubGit } from '../../domain/hf/ports.ts';
import type { RepoKind } from '../../domain/model.ts';
import { baseUrl } from '../api/present.ts';
import { badRequest } from './hub-errors.ts';
import { hubCommit, hubRepo, type HubRepoDeps, type HubRepoParams } from './hub-repo.ts';

const COMMITS_PAGE = 50;
const MAX_COMMIT_PAGES = 200;

export function registerRefsRoutes(app: FastifyInstance, deps: HubRepoDeps & { hubGit: HubGit; publicUrl: string | null }): void {
  for (const [plural, kind] of [['models', 'model'], ['datasets', 'dataset']] as const) {
    app.get(`/api/${plural}/:owner/:repo/refs`, (request: FastifyRequest<{ Params: HubRepoParams }>) => refs(deps, kind, request));
    app.get(`/api/${plural}/:owner/:repo/commits/:revision`, (request: FastifyRequest<{ Params: HubRepoParams & { revision: string }; Querystring: { p?: string; limit?: string } }>, reply) =>
      commits(deps, kind, request, reply),
    );
  }
}

async function refs(deps: HubRepoDeps, kind: RepoKind, request: FastifyRequest<{ Params: HubRepoParams }>) {
  const { repo } = await hubRepo(deps, request, kind, request.params, 'read');
  const all = await deps.git.refs(repo.id);
  const named = (prefix: string) =>
    Promise.all(
      all
        .filter((r) => r.name.startsWith(prefix))
        .map(async (r) => ({ name: r.name.slice(prefix.length), ref: r.name, targetCommit: r.type === 'commit' ? r.sha : ((await deps.git.resolveCommit(repo.id, r.name)) ?? r.sha) })),
    );
  return { branches: await named('refs/heads/'), tags: await named('refs/tags/'), converts: [], pullRequests: [] };
}

async function commits(
  deps: HubRepoDeps & { hubGit: HubGit; publicUrl: string | null },
  kind: RepoKind,
  request: FastifyRequest<{ Params: HubRepoParams & { revision: string }; Querystring: { p?: string; limit?: string } }>,
  reply: FastifyReply,
) {
  const { repo } = await hubRepo(deps, request, kind, request.params, 'read');
  const page = request.query.p === undefined ? 0 : Number(request.query.p);
  if (!Number.isSafeInteger(page) || page < 0 || page >= MAX_COMMIT_PAGES) throw badRequest(`p must be an integer from 0 to ${MAX_COMMIT_PAGES - 1}`);
  const size = Math.min(COMMITS_PAGE, Math.max(1, Number(request.query.limit) || COMMITS_PAGE));
  const commit = await hubCommit(deps.hubGit, repo, request.params.revision);
  const history = await deps.git.commits(repo.id, commit, (page + 1) * size + 1);
  if (history.length > (page + 1) * size) {
    const next = new URL(request.url, baseUrl(request, deps.publicUrl) + '/');
    next.searchParams.set('p', String(page + 1));
    reply.header('Link', `<${next.toString()}>; rel="next"`);
  }
  return history.slice(page * size, (page + 1) * size).map((c) => {
    const [title = '', ...rest] = c.message.split('\n');
    return { id: c.sha, title, message: rest.join('\n').trim(), authors: [{ user: c.author.name }], date: new Date(c.committer.date).toISOString() };
  });
}
