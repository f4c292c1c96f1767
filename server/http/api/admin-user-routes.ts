import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../../domain/audit.ts';
import type { UserAdmin } from '../../domain/user-admin.ts';
import { type Authenticate, requirePrincipal } from '../authenticate.ts';
import { errors, noContent } from './schemas/common.ts';

const userParams = { type: 'object', required: ['username'], properties: { username: { type: 'string' } } } as const;
type Params = { Params: { username: string } };

/** Site admins: suspend, unsuspend and delete accounts (each action audited). */
export function registerAdminUserRoutes(app: FastifyInstance, deps: { users: UserAdmin; authenticate: Authenticate; audit: AuditLog }): void {
  const { users, authenticate, audit } = deps;

  for (const [method, action] of [
    ['put', 'suspend'],
    ['delete', 'unsuspend'],
  ] as const) {
    app[method]<Params>(
      '/api/v1/admin/users/:username/suspension',
      {
        schema: {
          summary: action === 'suspend' ? "Suspend a user: every token, password and login JWT of theirs is refused at once" : 'Lift a suspension',
          params: userParams,
          response: { 204: noContent, ...errors },
        },
      },
      async (request, reply) => {
        const admin = await requirePrincipal(authenticate, request);
        const user = await users[action](admin, request.params.username);
        await audit.record({ action: `user.${action}`, actor: admin.user, target: user.username, details: { user_id: user.id }, address: request.ip });
        return reply.code(204).send();
      },
    );
  }

  app.delete<Params & { Querystring: { transfer_to?: string } }>(
    '/api/v1/admin/users/:username',
    {
      schema: {
        summary: 'Delete a user: their repositories are deleted, or moved to `transfer_to`; their queued and running runs are cancelled',
        params: userParams,
        querystring: { type: 'object', properties: { transfer_to: { type: 'string', description: 'A user to receive the repositories instead of deleting them' } } },
        response: {
          200: {
            type: 'object',
            properties: {
              deleted_repos: { type: 'array', items: { type: 'string' } },
              transferred_repos: { type: 'array', items: { type: 'string' } },
              cancelled_runs: { type: 'array', items: { type: 'integer' } },
            },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const admin = await requirePrincipal(authenticate, request);
      const { username } = request.params;
      const transferTo = request.query.transfer_to;
      const removed = await users.remove(admin, username, transferTo);
      const answer = { deleted_repos: removed.deletedRepos, transferred_repos: removed.transferredRepos, cancelled_runs: removed.cancelledRuns };
      await audit.record({ action: 'user.delete', actor: admin.user, target: username, details: { ...answer, transfer_to: transferTo ?? null }, address: request.ip });
      return answer;
    },
  );
}
