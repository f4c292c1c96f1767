import type { FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from '../domain/errors.ts';
import type { AccessLevel, Repo } from '../domain/model.ts';
import { isReservedOwner, repoNameFromUrl } from '../domain/names.ts';
import { baseUrl } from '../http/api/present.ts';
import type { Web } from './context.ts';
import { repoPath } from './views/parts.ts';
import type { RepoHeader } from './views/repo-header.ts';

export type RepoParams = { owner: string; repo: string };

/** The viewer's access level found by readableRepo, so the header knows whether to show Settings without asking again. */
const levels = new WeakMap<FastifyRequest, AccessLevel>();

/**
 * The repository a page is about, read through RepoService.authorize like every API call: anonymous
 * on a private (or missing) repo -> sign-in redirect, a signed-in outsider -> 404. Null when the
 * first segment is one of the server's own (`/api/...`): that path belongs to the server's 404.
 */
export async function readableRepo(web: Web, request: FastifyRequest<{ Params: RepoParams }>): Promise<Repo | null> {
  if (isReservedOwner(request.params.owner)) return null;
  const name = repoNameFromUrl(request.params.repo);
  if (!name) throw notFound('repository');
  const { repo, level } = await web.deps.repos.authorize(await web.principal(request), request.params.owner, name, 'read');
  levels.set(request, level);
  return repo;
}

/** The viewer's access level to the repository readableRepo found for this request (undefined before it ran). */
export function viewerLevel(request: FastifyRequest): AccessLevel | undefined {
  return levels.get(request);
}

/** The header of a repository page; the fork button for signed-in users other than the owner, the Settings tab for repo admins. */
export async function headerFor(web: Web, request: FastifyRequest, reply: FastifyReply, repo: Repo, tab: RepoHeader['tab'], level?: AccessLevel): Promise<RepoHeader> {
  const principal = await web.principal(request);
  const forkCsrf = principal && principal.user.id !== repo.ownerId ? await web.csrf(request, reply) : null;
  return { repo, tab, forkCsrf, settings: (level ?? levels.get(request)) === 'admin' };
}

/** The URL git clones the repository from (MLGIT_PUBLIC_URL, else the address the page was asked on). */
export function cloneUrl(web: Web, request: FastifyRequest, repo: Repo): string {
  return `${baseUrl(request, web.deps.config.publicUrl)}${repoPath(repo)}.git`;
}
