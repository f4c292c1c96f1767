import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.ts';
import type { AuditLog } from '../../domain/audit.ts';
import { invalid } from '../../domain/errors.ts';
import type { Principal, Repo } from '../../domain/model.ts';
import type { RepoPatch, RepoService } from '../../domain/repos.ts';
import { type Authenticate, requirePrincipal } from '../authenticate.ts';
import { parsePage, setPageHeaders } from './pagination.ts';
import { baseUrl, presentRepo } from './present.ts';
import { errors, noContent, pageQueryProperties, ref, repoParams, repoParamsWith } from './schemas/common.ts';
import { lfsUsageSchema } from './schemas/entities.ts';

type RepoParams = { owner: string; name: string };

const repoList = { type: 'array', items: ref('Repo') } as const;
const pushSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    ref: { type: 'string' },
    before: { type: 'string' },
    after: { type: 'string' },
    pusher: { type: ['string', 'null'] },
    pushed_at: { type: 'string', format: 'date-time' },
  },
} as const;
const collaboratorParams = repoParamsWith({ username: { type: 'string' } });

export function registerRepoRoutes(
  app: FastifyInstance,
  deps: {
    config: Config;
    repos: RepoService;
    authenticate: Authenticate;
    lfsUsage: (repoId: number) => Promise<{ objects: number; bytes: number }>;
    audit: AuditLog;
    /** Webhook events (WebhookService.emit). */
    events: { emit(repoId: number, event: 'repo.created' | 'repo.deleted', payload: Record<string, unknown>, senderId: number | null): Promise<void> };
  },
): void {
  const { repos, authenticate, audit, events } = deps;
  const base = (request: Parameters<typeof baseUrl>[0]) => baseUrl(request, deps.config.publicUrl);
  /** Forks of a private repo deleted with it or with a collaborator's access: each is a repo deletion in the log. */
  const recordLostForks = async (actor: Principal['user'], forks: readonly Repo[], reason: string, address: string) => {
    for (const fork of forks) {
      await audit.record({ action: 'repo.delete', actor, target: `${fork.owner}/${fork.name}`, details: { repo_id: fork.id, reason }, address });
    }
  };

  app.post<{ Body: { name: string; private?: boolean; kind?: string; description?: string } }>(
    '/api/v1/repos',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string' }, private: { type: 'boolean' }, kind: { type: 'string' }, description: { type: 'string' } },
        },
        summary: 'Create a repository owned by the caller',
        response: { 201: ref('Repo'), ...errors },
      },
    },
    async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      const repo = await repos.create(principal, request.body);
      await audit.record({ action: 'repo.create', actor: principal.user, target: `${repo.owner}/${repo.name}`, details: { private: repo.private }, address: request.ip });
      await events.emit(repo.id, 'repo.created', { action: 'created' }, principal.user.id);
      return reply.code(201).send(presentRepo(repo, base(request)));
    },
  );

  app.get<{ Querystring: { q?: string; owner?: string; kind?: string; page?: string; per_page?: string } }>(
    '/api/v1/repos',
    {
      schema: {
        summary: 'Repositories the caller can read, paginated',
        querystring: {
          type: 'object',
          properties: {
            q: { type: 'string', description: 'Substring of the name or description' },
            owner: { type: 'string' },
            kind: { type: 'string', description: 'model or dataset' },
            ...pageQueryProperties,
          },
        },
        response: { 200: repoList, ...errors },
      },
    },
    async (request, reply) => {
      const principal = await authenticate(request);
      const page = parsePage(request.query);
      const { q, owner, kind } = request.query;
      const { repos: found, total } = await repos.list(principal, { q, owner, kind, ...page });
      setPageHeaders(request, reply, page, total);
      return found.map((repo) => presentRepo(repo, base(request)));
    },
  );

  app.get<{ Params: RepoParams }>(
    '/api/v1/repos/:owner/:name',
    {
      schema: {
        summary: 'One repository, with its LFS storage use',
        params: repoParams,
        response: { 200: { allOf: [ref('Repo'), { type: 'object', properties: { lfs: lfsUsageSchema } }] }, ...errors },
      },
    },
    async (request) => {
      const { repo } = await repos.authorize(await authenticate(request), request.params.owner, request.params.name, 'read');
      return { ...presentRepo(repo, base(request)), lfs: await deps.lfsUsage(repo.id) };
    },
  );

  app.patch<{ Params: RepoParams; Body: RepoPatch }>(
    '/api/v1/repos/:owner/:name',
    {
      schema: {
        summary: 'Change description, visibility, default or protected branches (repo admins)',
        params: repoParams,
        // Types are checked by the domain, so a wrong one gets its message ("private must be true or false").
        body: {
          type: 'object',
          properties: {
            description: { description: 'string' },
            private: { description: 'boolean' },
            default_branch: { description: 'string' },
            protected_branches: { description: 'array of branch names' },
          },
        },
        response: { 200: ref('Repo'), ...errors },
      },
    },
    async (request) => {
      const principal = await requirePrincipal(authenticate, request);
      const { repo: before } = await repos.authorize(principal, request.params.owner, request.params.name, 'admin');
      const updated = await repos.update(principal, request.params.owner, request.params.name, request.body);
      if (updated.private !== before.private) {
        await audit.record({ action: 'repo.visibility', actor: principal.user, target: `${updated.owner}/${updated.name}`, details: { private: updated.private }, address: request.ip });
      }
      return presentRepo(updated, base(request));
    },
  );

  app.delete<{ Params: RepoParams }>(
    '/api/v1/repos/:owner/:name',
    { schema: { summary: 'Delete a repository (repo admins)', params: repoParams, response: { 204: noContent, ...errors } } },
    async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      const { repo } = await repos.authorize(principal, request.params.owner, request.params.name, 'admin');
      // Queued before the rows go: deliveries carry their own URL and body, so they outlive the repo.
      await events.emit(repo.id, 'repo.deleted', { action: 'deleted' }, principal.user.id);
      const forks = await repos.remove(principal, request.params.owner, request.params.name);
      await audit.record({ action: 'repo.delete', actor: principal.user, target: `${repo.owner}/${repo.name}`, details: { repo_id: repo.id }, address: request.ip });
      await recordLostForks(principal.user, forks, `${repo.owner}/${repo.name} was deleted`, request.ip);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: RepoParams; Body: { name?: string } | undefined }>(
    '/api/v1/repos/:owner/:name/forks',
    {
      schema: {
        summary: 'Fork a repository into the caller\'s namespace',
        params: repoParams,
        // No body at all is a fork under the same name.
        body: { type: ['object', 'null'], properties: { name: { description: 'string: a new name for the fork' } } },
        response: { 201: ref('Repo'), ...errors },
      },
    },
    async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      const fork = await repos.fork(principal, request.params.owner, request.params.name, request.body ?? {});
      await audit.record({ action: 'repo.create', actor: principal.user, target: `${fork.owner}/${fork.name}`, details: { private: fork.private, fork_of: `${request.params.owner}/${request.params.name}` }, address: request.ip });
      return reply.code(201).send(presentRepo(fork, base(request)));
    },
  );

  app.get<{ Params: RepoParams; Querystring: { limit?: string } }>(
    '/api/v1/repos/:owner/:name/pushes',
    {
      schema: {
        summary: 'The push log, newest first',
        params: repoParams,
        querystring: { type: 'object', properties: { limit: { type: 'string', description: '1 to 500 (default 30)' } } },
        response: { 200: { type: 'array', items: pushSchema }, ...errors },
      },
    },
    async (request) => {
      const limit = request.query.limit === undefined ? 30 : Number(request.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw invalid('limit must be between 1 and 500');
      return repos.pushes(await authenticate(request), request.params.owner, request.params.name, limit);
    },
  );

  app.get<{ Params: RepoParams }>(
    '/api/v1/repos/:owner/:name/collaborators',
    {
      schema: {
        summary: 'Collaborators and their roles',
        params: repoParams,
        response: { 200: { type: 'array', items: { type: 'object', properties: { username: { type: 'string' }, role: { type: 'string', enum: ['read', 'write', 'admin'] } } } }, ...errors },
      },
    },
    async (request) => repos.collaborators(await authenticate(request), request.params.owner, request.params.name),
  );

  app.put<{ Params: RepoParams & { username: string }; Body: { role: string } }>(
    '/api/v1/repos/:owner/:name/collaborators/:username',
    {
      schema: {
        summary: 'Add a collaborator or change their role (repo admins)',
        params: collaboratorParams,
        body: { type: 'object', required: ['role'], properties: { role: { type: 'string', description: 'read, write or admin' } } },
        response: { 204: noContent, ...errors },
      },
    },
    async (request, reply) => {
      const { owner, name, username } = request.params;
      const principal = await requirePrincipal(authenticate, request);
      await repos.setCollaborator(principal, owner, name, username, request.body.role);
      await audit.record({ action: 'collaborator.set', actor: principal.user, target: `${owner}/${name}`, details: { username, role: request.body.role }, address: request.ip });
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: RepoParams & { username: string } }>(
    '/api/v1/repos/:owner/:name/collaborators/:username',
    { schema: { summary: 'Remove a collaborator (repo admins)', params: collaboratorParams, response: { 204: noContent, ...errors } } },
    async (request, reply) => {
      const { owner, name, username } = request.params;
      const principal = await requirePrincipal(authenticate, request);
      const forks = await repos.removeCollaborator(principal, owner, name, username);
      await audit.record({ action: 'collaborator.remove', actor: principal.user, target: `${owner}/${name}`, details: { username }, address: request.ip });
      await recordLostForks(principal.user, forks, `${username} lost read access to ${owner}/${name}`, request.ip);
      return reply.code(204).send();
    },
  );
}
