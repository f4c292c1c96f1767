import type { FastifyRequest } from 'fastify';
import { DomainError } from '../../domain/errors.ts';
import type { HubGit } from '../../domain/hf/ports.ts';
import { resolveRevision } from '../../domain/hf/revisions.ts';
import type { Principal, Repo, RepoKind, Role } from '../../domain/model.ts';
import { repoNameFromUrl } from '../../domain/names.ts';
import type { GitBackend } from '../../domain/ports.ts';
import type { RepoService } from '../../domain/repos.ts';
import type { Authenticate } from '../authenticate.ts';
import { badRequest, HubError, repoNotFound, revisionNotFound } from './hub-errors.ts';

export interface HubRepoDeps {
  readonly repos: RepoService;
  readonly git: GitBackend;
  readonly authenticate: Authenticate;
}

export type HubRepoParams = { owner: string; repo: string };

/** `models` or `datasets` in the Hub's URLs, and mlgit's repository kind each names. */
export const KIND_OF: Record<string, RepoKind> = { models: 'model', datasets: 'dataset' };

/**
 * The repository a Hub URL names, checked for `wanted` access with RepoService.authorize (one home
 * for access rules) and answered the Hub's way: anonymous callers 401 RepoNotFound (so clients
 * ask for a token), callers who may not see it 404 RepoNotFound, a repo of the other kind too.
 */
export async function hubRepo(deps: HubRepoDeps, request: FastifyRequest, kind: RepoKind, params: HubRepoParams, wanted: Role): Promise<{ repo: Repo; principal: Principal | null }> {
  const principal = await deps.authenticate(request);
  const owner = repoNameFromUrl(params.owner);
  const name = repoNameFromUrl(params.repo);
  if (!owner || !name || owner !== params.owner) throw repoNotFound(principal ? 404 : 401);
  let repo: Repo;
  try {
    repo = (await deps.repos.authorize(principal, owner, name, wanted)).repo;
  } catch (err) {
    if (err instanceof DomainError && err.code === 'unauthenticated') throw repoNotFound(401);
    if (err instanceof DomainError && err.code === 'not_found') throw repoNotFound(404);
    throw err;
  }
  if (repo.kind !== kind) throw repoNotFound(404);
  return { repo, principal };
}

/** The commit a revision names (URL-decoded by the router), or 404 RevisionNotFound. */
export async function hubCommit(refs: Pick<HubGit, 'commitOf'>, repo: Repo, revision: string): Promise<string> {
  const sha = await resolveRevision(refs, repo, revision);
  if (!sha) throw revisionNotFound(revision);
  return sha;
}

/**
 * A path inside the repository as clients send it: relative, no `.`/`..` segments, no NUL or
 * other control characters, no `.git` directory. Refused with 400 before git sees it.
 */
export function hubPath(raw: string | undefined): string {
  const path = (raw ?? '').replace(/^\/+|\/+$/g, '');
  if (path === '') return '';
  // eslint-disable-next-line no-control-regex -- control characters are what is refused here
  if (path.length > 4096 || /[\x00-\x1f\x7f\\]/.test(path)) throw badRequest('invalid path');
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) throw badRequest('invalid path: empty, "." and ".." segments are not allowed');
  if (segments.some((s) => s.toLowerCase() === '.git')) throw badRequest('invalid path: ".git" is not a path in a repository');
  return path;
}

export function hubKindOf(segment: string): RepoKind {
  const kind = KIND_OF[segment];
  if (!kind) throw new HubError(404, `unknown repository type "${segment}"`);
  return kind;
}
