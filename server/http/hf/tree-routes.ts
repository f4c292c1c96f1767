// api/{type}s/{repo}/tree/{revision}[/{path}] (listFiles, list_repo_tree) and
// api/{type}s/{repo}/paths-info/{revision} (pathsInfo, get_paths_info, downloadFileToCacheDir).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HubEntry, HubGit } from '../../domain/hf/ports.ts';
import type { RepoKind } from '../../domain/model.ts';
import { baseUrl } from '../api/present.ts';
import { badRequest, entryNotFound } from './hub-errors.ts';
import { hubCommit, hubPath, hubRepo, type HubRepoDeps, type HubRepoParams } from './hub-repo.ts';
import { presentTreeEntry } from './hub-present.ts';

export interface TreeDeps extends HubRepoDeps {
  readonly hubGit: HubGit;
  readonly publicUrl: string | null;
}

type TreeRequest = FastifyRequest<{ Params: HubRepoParams & { revision: string; '*'?: string }; Querystring: { recursive?: string; expand?: string; cursor?: string; limit?: string } }>;
type PathsInfoRequest = FastifyRequest<{ Params: HubRepoParams & { revision: string }; Body: unknown }>;

// The Hub's page sizes: 1000 entries, 50 when each is expanded with its last commit.
const PAGE = 1000;
const EXPANDED_PAGE = 50;
const MAX_PATHS = 1000;

const truthy = (value: unknown) => value === true || value === 'true' || value === 'True' || value === '1';

export function registerTreeRoutes(app: FastifyInstance, deps: TreeDeps): void {
  for (const [plural, kind] of [['models', 'model'], ['datasets', 'dataset']] as const) {
    const tree = (request: TreeRequest, reply: FastifyReply) => listTree(deps, kind, request, reply);
    app.get(`/api/${plural}/:owner/:repo/tree/:revision`, tree);
    app.get(`/api/${plural}/:owner/:repo/tree/:revision/*`, tree);
    app.post(`/api/${plural}/:owner/:repo/paths-info/:revision`, (request: PathsInfoRequest) => pathsInfo(deps, kind, request));
  }
}

async function listTree(deps: TreeDeps, kind: RepoKind, request: TreeRequest, reply: FastifyReply) {
  const { repo } = await hubRepo(deps, request, kind, request.params, 'read');
  const dir = hubPath(request.params['*']);
  const commit = await hubCommit(deps.hubGit, repo, request.params.revision);
  const expand = truthy(request.query.expand);
  const entries = await deps.hubGit.list(repo.id, commit, dir, truthy(request.query.recursive));
  if (!entries) throw entryNotFound(dir);
  const offset = request.query.cursor === undefined ? 0 : Number(request.query.cursor);
  if (!Number.isSafeInteger(offset) || offset < 0) throw badRequest('cursor must come from a Link header');
  const size = Math.min(expand ? EXPANDED_PAGE : PAGE, Math.max(1, Number(request.query.limit) || PAGE));
  const page = entries.slice(offset, offset + size);
  if (offset + size < entries.length) {
    const next = new URL(request.url, baseUrl(request, deps.publicUrl) + '/');
    next.searchParams.set('cursor', String(offset + size));
    reply.header('Link', `<${next.toString()}>; rel="next"`);
  }
  return expand ? withLastCommits(deps, repo.id, commit, page) : page.map(presentTreeEntry);
}

async function withLastCommits(deps: TreeDeps, repoId: number, commit: string, entries: readonly HubEntry[]) {
  const last = await deps.hubGit.lastCommits(repoId, commit, entries.map((e) => e.path));
  return entries.map((e) => {
    const found = last.get(e.path);
    return { ...presentTreeEntry(e), ...(found ? { lastCommit: found } : {}), securityFileStatus: { status: 'unscanned' } };
  });
}

/** `{paths, expand}` as JSON (the JavaScript client) or as a form (huggingface_hub sends `data=`). */
function pathsInfoBody(body: unknown): { paths: string[]; expand: boolean } {
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const paths = [record.paths ?? []].flat();
  if (!paths.every((p) => typeof p === 'string')) throw badRequest('paths must be a list of strings');
  if (paths.length > MAX_PATHS) throw badRequest(`at most ${MAX_PATHS} paths at once`);
  return { paths: paths as string[], expand: truthy(record.expand) };
}

async function pathsInfo(deps: TreeDeps, kind: RepoKind, request: PathsInfoRequest) {
  const { repo } = await hubRepo(deps, request, kind, request.params, 'read');
  const { paths, expand } = pathsInfoBody(request.body);
  const wanted = [...new Set(paths.map((p) => hubPath(p)).filter(Boolean))];
  const commit = await hubCommit(deps.hubGit, repo, request.params.revision);
  // Paths that are not there are left out, as on the Hub.
  const found = (await Promise.all(wanted.map((p) => deps.hubGit.entry(repo.id, commit, p)))).filter((e): e is HubEntry => e !== null);
  return expand ? withLastCommits(deps, repo.id, commit, found) : found.map(presentTreeEntry);
}
