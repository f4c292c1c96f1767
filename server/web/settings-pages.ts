import type { FastifyRequest } from 'fastify';
import { DomainError, notFound, unauthenticated } from '../domain/errors.ts';
import type { Principal, Repo } from '../domain/model.ts';
import { isReservedOwner, repoNameFromUrl } from '../domain/names.ts';
import { STATUS } from '../http/errors.ts';
import type { Web } from './context.ts';
import type { RepoParams } from './repo-pages.ts';
import type { FormValues } from './views/repo-settings.ts';

export type Form = Record<string, string | undefined>;

/**
 * The repository for its admins: RepoService.authorize at `admin`, as the API's PATCH and hook
 * routes do (anonymous -> sign-in, a signed-in outsider on a private repo -> 404, anyone who can
 * read but not administer -> 403). Null for the server's own first segments (`/api/...`).
 */
export async function adminRepo(web: Web, request: FastifyRequest<{ Params: RepoParams }>): Promise<{ repo: Repo; principal: Principal } | null> {
  if (isReservedOwner(request.params.owner)) return null;
  const name = repoNameFromUrl(request.params.repo);
  if (!name) throw notFound('repository');
  const principal = await web.principal(request);
  const { repo } = await web.deps.repos.authorize(principal, request.params.owner, name, 'admin');
  if (!principal) throw unauthenticated();
  return { repo, principal };
}

export async function signedIn(web: Web, request: FastifyRequest): Promise<Principal> {
  const principal = await web.principal(request);
  if (!principal) throw unauthenticated();
  return principal;
}

/**
 * A refusal the form should show next to itself (bad input, a name that does not exist, a clash),
 * with its status; null for anything else (access, limits, failures), which the error page answers.
 */
export function formRefusal(err: unknown): { status: number; message: string } | null {
  if (!(err instanceof DomainError) || !['invalid', 'not_found', 'conflict'].includes(err.code)) return null;
  return { status: STATUS[err.code], message: err.message };
}

/** What a refused form held, minus its token and anything secret, to fill the form in again. */
export function keptValues(body: Form, secret: readonly string[] = []): FormValues {
  const kept: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(body)) if (key !== '_csrf' && !secret.includes(key)) kept[key] = value;
  return kept;
}

/** The names of the checkboxes `<prefix>.<name>` that were ticked (the form parser keeps one value per name). */
export function ticked(body: Form, prefix: string): string[] {
  return Object.keys(body)
    .filter((key) => key.startsWith(`${prefix}.`) && body[key] === 'on')
    .map((key) => key.slice(prefix.length + 1));
}

/** A confirmation named by the redirect's `?done=`: fixed texts only, so a link cannot put words on the page. */
export function noticeOf(notices: Readonly<Record<string, string>>, done: unknown): string | null {
  return typeof done === 'string' && Object.hasOwn(notices, done) ? notices[done]! : null;
}
