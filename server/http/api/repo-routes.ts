import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.ts';
import { invalid } from '../../domain/errors.ts';
import type { RepoPatch, RepoService } from '../../domain/repos.ts';
import { type Authenticate, requirePrincipal } from '../authenticate.ts';
import { parsePage, setPageHeaders } from './pagination.ts';
import { baseUrl, presentRepo } from './present.ts';

type RepoParams = { owner: string; name: string };

export function registerRepoRoutes(
  app: FastifyInstance,
  deps: { config: Config; repos: RepoService; authenticate: Authenticate; lfsUsage: (repoId: number) => Promise<{ objects: number; bytes: number }> },
): void {
  const { repos, authenticate } = deps;
  const base = (request: Parameters<typeof baseUrl>[0]) => baseUrl(request, deps.config.publicUrl);

  app.post<{ Body: { name: string; private?: boolean; kind?: string; description?: string } }>(
    '/api/v1/repos',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string' }, private: { type: 'boolean' }, kind: { type: 'string' }, description: { type: 'string' } },
        },
      },
    },
    async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      const repo = await repos.create(principal, request.body);
      return reply.code(201).send(presentRepo(repo, base(request)));
    },
  );

  app.get<{ Querystring: { q?: string; owner?: string; kind?: string; page?: string; per_page?: string } }>('/api/v1/repos', async (request, reply) => {
    const principal = await authenticate(request);
    const page = parsePage(request.query);
    const { q, owner, kind } = request.query;
    const { repos: found, total } = await repos.list(principal, { q, owner, kind, ...page });
    setPageHeaders(request, reply, page, total);
    return found.map((repo) => presentRepo(repo, base(request)));
  });

  app.get<{ Params: RepoParams }>('/api/v1/repos/:owner/:name', async (request) => {
    const { repo } = await repos.authorize(await authenticate(request), request.params.owner, request.params.name, 'read');
    return { ...presentRepo(repo, base(request)), lfs: await deps.lfsUsage(repo.id) };
  });

  app.patch<{ Params: RepoParams; Body: RepoPatch }>('/api/v1/repos/:owner/:name', { schema: { body: { type: 'object' } } }, async (request) => {
    const principal = await requirePrincipal(authenticate, request);
    return presentRepo(await repos.update(principal, request.params.owner, request.params.name, request.body), base(request));
  });

  app.delete<{ Params: RepoParams }>('/api/v1/repos/:owner/:name', async (request, reply) => {
    await repos.remove(await requirePrincipal(authenticate, request), request.params.owner, request.params.name);
    return reply.code(204).send();
  });

  app.post<{ Params: RepoParams; Body: { name?: string } | undefined }>('/api/v1/repos/:owner/:name/forks', async (request, reply) => {
    const principal = await requirePrincipal(authenticate, request);
    const fork = await repos.fork(principal, request.params.owner, request.params.name, request.body ?? {});
    return reply.code(201).send(presentRepo(fork, base(request)));
  });

  app.get<{ Params: RepoParams; Querystring: { limit?: string } }>('/api/v1/repos/:owner/:name/pushes', async (request) => {
    const limit = request.query.limit === undefined ? 30 : Number(request.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw invalid('limit must be between 1 and 500');
    return repos.pushes(await authenticate(request), request.params.owner, request.params.name, limit);
  });

  app.get<{ Params: RepoParams }>('/api/v1/repos/:owner/:name/collaborators', async (request) =>
    repos.collaborators(await authenticate(request), request.params.owner, request.params.name),
  );

  app.put<{ Params: RepoParams & { username: string }; Body: { role: string } }>(
    '/api/v1/repos/:owner/:name/collaborators/:username',
    { schema: { body: { type: 'object', required: ['role'], properties: { role: { type: 'string' } } } } },
    async (request, reply) => {
      const { owner, name, username } = request.params;
      await repos.setCollaborator(await requirePrincipal(authenticate, request), owner, name, username, request.body.role);
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: RepoParams & { username: string } }>('/api/v1/repos/:owner/:name/collaborators/:username', async (request, reply) => {
    const { owner, name, username } = request.params;
    await repos.removeCollaborator(await requirePrincipal(authenticate, request), owner, name, username);
    return reply.code(204).send();
  });
}
