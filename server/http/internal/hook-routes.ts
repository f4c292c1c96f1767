import type { FastifyInstance } from 'fastify';
import type { HookSessions } from '../../domain/hook-sessions.ts';
import type { RefUpdate } from '../../domain/model.ts';
import type { QuarantineEnv } from '../../domain/ports.ts';
import type { PushService } from '../../domain/pushes.ts';
import type { RepoService } from '../../domain/repos.ts';
import { sendError } from '../errors.ts';

const SHA = '^[0-9a-f]{40}$';

const hookBody = {
  type: 'object',
  required: ['secret', 'updates'],
  properties: {
    secret: { type: 'string', maxLength: 200 },
    updates: {
      type: 'array',
      maxItems: 100_000,
      items: {
        type: 'object',
        required: ['old', 'new', 'ref'],
        properties: { old: { type: 'string', pattern: SHA }, new: { type: 'string', pattern: SHA }, ref: { type: 'string', minLength: 1, maxLength: 1024 } },
      },
    },
    quarantine: {
      type: 'object',
      properties: {
        GIT_OBJECT_DIRECTORY: { type: 'string' },
        GIT_ALTERNATE_OBJECT_DIRECTORIES: { type: 'string' },
        GIT_QUARANTINE_PATH: { type: 'string' },
      },
    },
    push_options: { type: 'array', items: { type: 'string', maxLength: 4096 }, maxItems: 100 },
  },
} as const;

interface HookBody {
  secret: string;
  updates: { old: string; new: string; ref: string }[];
  quarantine?: QuarantineEnv;
  push_options?: string[];
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * The API that hooks/mlgit-hook.mjs calls from inside `git receive-pack`: loopback only, and
 * the push is identified by the one-time secret in the hook's environment.
 */
export function registerHookRoutes(app: FastifyInstance, deps: { hookSessions: HookSessions; pushes: PushService; repos: RepoService }): void {
  app.post<{ Params: { hook: string }; Body: HookBody }>(
    '/internal/hooks/:hook',
    { schema: { body: hookBody }, bodyLimit: 64 * 1024 * 1024 },
    async (request, reply) => {
      if (!isLoopback(request.socket.remoteAddress ?? '')) return sendError(reply, 403, 'forbidden', 'the hook API is reachable from loopback only');
      const context = deps.hookSessions.get(request.body.secret);
      if (!context) return sendError(reply, 403, 'forbidden', 'unknown or expired push session');
      const repo = await deps.repos.byId(context.repoId);
      if (!repo) return { ok: false, messages: ['error: the repository was deleted during the push'] };
      const updates: RefUpdate[] = request.body.updates.map((u) => ({ oldSha: u.old, newSha: u.new, ref: u.ref }));
      switch (request.params.hook) {
        case 'pre-receive':
          return deps.pushes.preReceive(repo, context.pusherId, updates, request.body.quarantine ?? {});
        case 'post-receive':
          await deps.pushes.postReceive(context, updates, request.body.push_options ?? []);
          return { ok: true, messages: [] };
        default:
          return sendError(reply, 404, 'not_found', `unknown hook "${request.params.hook}"`);
      }
    },
  );
}
