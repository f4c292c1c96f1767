// api/whoami-v2 (whoAmI, `hf auth whoami`), api/repos/create and api/repos/delete (createRepo,
// deleteRepo, create_repo, delete_repo), mapped onto mlgit's users, tokens and repositories.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditLog } from '../../domain/audit.ts';
import { forbidden } from '../../domain/errors.ts';
import type { Principal, Repo, RepoKind } from '../../domain/model.ts';
import type { RepoService } from '../../domain/repos.ts';
import type { WebhookService } from '../../domain/webhooks.ts';
import { baseUrl } from '../api/present.ts';
import type { Authenticate } from '../authenticate.ts';
import { badRequest, HubError, repoNotFound } from './hub-errors.ts';
import { hubRepo } from './hub-repo.ts';
import type { GitBackend } from '../../domain/ports.ts';

export interface HubAccountDeps {
  readonly repos: RepoService;
  readonly git: GitBackend;
  readonly audit: AuditLog;
  readonly events: WebhookService;
  readonly authenticate: Authenticate;
  readonly publicUrl: string | null;
}

type RepoBody = { name?: unknown; organization?: unknown; type?: unknown; private?: unknown; visibility?: unknown; files?: unknown };

const KINDS: Record<string, RepoKind> = { model: 'model', dataset: 'dataset' };

async function signedIn(authenticate: Authenticate, request: FastifyRequest): Promise<Principal> {
  const principal = await authenticate(request);
  if (!principal) throw new HubError(401, 'Invalid credentials in Authorization header');
  return principal;
}

/** The Hub's token roles from mlgit's scopes. */
function roleOf(principal: Principal): 'admin' | 'write' | 'read' {
  return principal.scopes.has('admin') ? 'admin' : principal.scopes.has('write') ? 'write' : 'read';
}

export function registerHubAccountRoutes(app: FastifyInstance, deps: HubAccountDeps): void {
  app.get('/api/whoami-v2', async (request) => {
    const principal = await signedIn(deps.authenticate, request);
    const { user } = principal;
    return {
      type: 'user',
      id: String(user.id),
      name: user.username,
      fullname: user.username,
      email: user.email,
      emailVerified: user.email !== null,
      isPro: false,
      canPay: false,
      periodEnd: null,
      avatarUrl: '',
      orgs: [],
      auth: {
        type: principal.via === 'token' ? 'access_token' : principal.via,
        // Listing the caller's tokens needs the `tokens` scope, which a read-only token lacks: the id names it.
        ...(principal.via === 'token' ? { accessToken: { displayName: `mlgit token ${principal.tokenId ?? ''}`.trim(), role: roleOf(principal) } } : {}),
      },
    };
  });

  app.post('/api/repos/create', async (request: FastifyRequest<{ Body: RepoBody | undefined }>, reply) => {
    const principal = await signedIn(deps.authenticate, request);
    const body = request.body ?? {};
    const kind = kindOf(body.type);
    assertOwnNamespace(principal, body.organization);
    if (body.files !== undefined) throw badRequest('files at creation are not supported by mlgit; upload them with a commit');
    const isPrivate = body.visibility === undefined ? (body.private ?? false) : body.visibility === 'private' ? true : body.visibility === 'public' ? false : null;
    if (isPrivate === null) throw badRequest('visibility must be "public" or "private"');
    const repo = await deps.repos.create(principal, { name: body.name, private: isPrivate, kind });
    await deps.audit.record({ action: 'repo.create', actor: principal.user, target: `${repo.owner}/${repo.name}`, details: { private: repo.private, via: 'hf' }, address: request.ip });
    await deps.events.emit(repo.id, 'repo.created', { action: 'created' }, principal.user.id);
    return reply.code(200).send({ url: repoUrl(baseUrl(request, deps.publicUrl), repo), name: `${repo.owner}/${repo.name}`, id: String(repo.id) });
  });

  app.delete('/api/repos/delete', async (request: FastifyRequest<{ Body: RepoBody | undefined }>, reply) => {
    const principal = await signedIn(deps.authenticate, request);
    const body = request.body ?? {};
    const kind = kindOf(body.type);
    const owner = body.organization ?? principal.user.username;
    if (typeof owner !== 'string' || typeof body.name !== 'string') throw repoNotFound();
    const { repo } = await hubRepo(deps, request, kind, { owner, repo: body.name }, 'admin');
    await deps.events.emit(repo.id, 'repo.deleted', { action: 'deleted' }, principal.user.id);
    const forks = await deps.repos.remove(principal, repo.owner, repo.name);
    for (const gone of [repo, ...forks]) {
      await deps.audit.record({ action: 'repo.delete', actor: principal.user, target: `${gone.owner}/${gone.name}`, details: { repo_id: gone.id, via: 'hf' }, address: request.ip });
    }
    return reply.code(200).send({});
  });
}

function kindOf(type: unknown): RepoKind {
  const kind = type === undefined || type === null ? 'model' : typeof type === 'string' ? KINDS[type] : undefined;
  if (!kind) throw badRequest(`repository type ${JSON.stringify(type)} is not supported by mlgit (model or dataset)`);
  return kind;
}

/** mlgit has no organizations: a user creates repositories in their own namespace. */
function assertOwnNamespace(principal: Principal, organization: unknown): void {
  if (organization === undefined || organization === null || organization === principal.user.username) return;
  throw forbidden(`You don't have the rights to create a repository under the namespace "${String(organization)}"`);
}

export function repoUrl(base: string, repo: Repo): string {
  return `${base}/${repo.kind === 'dataset' ? 'datasets/' : ''}${repo.owner}/${repo.name}`;
}
