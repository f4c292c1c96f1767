import type { FastifyInstance } from 'fastify';
import { isSiteAdmin } from '../../domain/access.ts';
import { notFound } from '../../domain/errors.ts';
import type { LfsService } from '../../domain/lfs.ts';
import type { AccountService } from '../../domain/accounts.ts';
import type { Authenticate } from '../authenticate.ts';
import { parsePage, setPageHeaders } from './pagination.ts';
import { errors, pageQuery, repoParams } from './schemas/common.ts';
import { lfsUsageSchema } from './schemas/entities.ts';

const lfsObjectList = {
  type: 'object',
  properties: {
    objects: { type: 'array', items: { type: 'object', properties: { oid: { type: 'string' }, size: { type: 'integer' }, created_at: { type: 'string', format: 'date-time' } } } },
    total_objects: { type: 'integer' },
    total_bytes: { type: 'integer' },
  },
} as const;

/** LFS storage as seen through the REST API: objects per repo, bytes per user. */
export function registerLfsObjectRoutes(app: FastifyInstance, deps: { lfs: LfsService; accounts: AccountService; authenticate: Authenticate }): void {
  app.get<{ Params: { owner: string; name: string }; Querystring: { page?: string; per_page?: string } }>(
    '/api/v1/repos/:owner/:name/lfs/objects',
    { schema: { summary: 'LFS objects a repository references, paginated', params: repoParams, querystring: pageQuery, response: { 200: lfsObjectList, ...errors } } },
    async (request, reply) => {
      const page = parsePage(request.query);
      const result = await deps.lfs.listObjects(await deps.authenticate(request), request.params.owner, request.params.name, page);
      setPageHeaders(request, reply, page, result.total);
      return { objects: result.objects, total_objects: result.total, total_bytes: result.bytes };
    },
  );

  app.get<{ Params: { username: string } }>(
    '/api/v1/users/:username/storage',
    {
      schema: {
        summary: "LFS storage used by a user's repositories (the user and site admins only)",
        params: { type: 'object', required: ['username'], properties: { username: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { username: { type: 'string' }, lfs: lfsUsageSchema } }, ...errors },
      },
    },
    async (request) => {
      const principal = await deps.authenticate(request);
      const user = await deps.accounts.findUser(request.params.username);
      // Usage tells what private repositories hold: others get the answer a missing user gets.
      if (!principal || (principal.user.id !== user.id && !isSiteAdmin(principal))) throw notFound(`user "${request.params.username}"`);
      const usage = await deps.lfs.userUsage(user.id);
      return { username: user.username, lfs: usage };
    },
  );
}
