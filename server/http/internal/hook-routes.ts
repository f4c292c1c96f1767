import type { FastifyInstance } from 'fastify';
import type { HookSessions, PushContext } from '../../domain/hook-sessions.ts';
import type { RefUpdate, Repo } from '../../domain/model.ts';
import type { QuarantineEnv } from '../../domain/ports.ts';
import type { HookVerdict, PushService } from '../../domain/pushes.ts';
import type { RepoService } from '../../domain/repos.ts';
import { sendError } from '../errors.ts';
import type { PushTimelines } from '../git/git-timeline.ts';

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
    started_at: { type: 'number' },
  },
} as const;

interface HookBody {
  secret: string;
  updates: { old: string; new: string; ref: string }[];
  quarantine?: QuarantineEnv;
  push_options?: string[];
  /** When the hook process started (epoch ms), for the push's timeline. */
  started_at?: number;
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

interface HookDeps {
  hookSessions: HookSessions;
  pushTimelines: PushTimelines;
  pushes: PushService;
  repos: RepoService;
  dispatchPush: (repo: Repo, pusherId: number, updates: RefUpdate[], pushOptions: string[]) => Promise<unknown>;
}

/**
 * The API that hooks/mlgit-hook.mjs calls from inside `git receive-pack`: loopback only, and
 * the push is identified by the one-time secret in the hook's environment.
 */
export function registerHookRoutes(app: FastifyInstance, deps: HookDeps): void {
  app.post<{ Params: { hook: string }; Body: HookBody }>(
    '/internal/hooks/:hook',
    { schema: { body: hookBody }, bodyLimit: 64 * 1024 * 1024 },
    async (request, reply) => {
      if (!isLoopback(request.socket.remoteAddress ?? '')) return sendError(reply, 403, 'forbidden', 'the hook API is reachable from loopback only');
      const context = deps.hookSessions.get(request.body.secret);
      if (!context) return sendError(reply, 403, 'forbidden', 'unknown or expired push session');
      const hook = request.params.hook;
      if (hook !== 'pre-receive' && hook !== 'post-receive') return sendError(reply, 404, 'not_found', `unknown hook "${hook}"`);
      const timeline = deps.pushTimelines.get(request.body.secret);
      // Before the hook started, git was reading the pack (pre-receive) or moving refs (post-receive).
      if (request.body.started_at !== undefined) timeline?.mark(hook === 'pre-receive' ? 'git.before-pre-receive' : 'git.between-hooks', request.body.started_at);
      timeline?.mark(`hook.${hook}.start`);
      const answer = await answerHook(hook, request.body, context, deps, (err, repoId) => {
        request.log.error({ err, repoId }, 'dispatching runs for a push failed');
      });
      timeline?.mark(`api.${hook}`);
      return answer;
    },
  );
}

async function answerHook(
  hook: 'pre-receive' | 'post-receive',
  body: HookBody,
  context: PushContext,
  deps: HookDeps,
  onDispatchError: (err: unknown, repoId: number) => void,
): Promise<HookVerdict> {
  const repo = await deps.repos.byId(context.repoId);
  if (!repo) return { ok: false, messages: ['error: the repository was deleted during the push'] };
  const updates: RefUpdate[] = body.updates.map((u) => ({ oldSha: u.old, newSha: u.new, ref: u.ref }));
  if (hook === 'pre-receive') return deps.pushes.preReceive(repo, context.pusherId, updates, body.quarantine ?? {});
  await deps.pushes.postReceive(context, updates);
  // The push has landed whatever happens here; a dispatch failure is logged, not shown as a push error.
  await deps.dispatchPush(repo, context.pusherId, updates, body.push_options ?? []).catch((err: unknown) => onDispatchError(err, repo.id));
  return { ok: true, messages: [] };
}
