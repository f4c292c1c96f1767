import type { FastifyInstance, FastifyReply } from 'fastify';
import { DomainError } from '../../domain/errors.ts';
import type { HookSessions, PushContext } from '../../domain/hook-sessions.ts';
import type { PushOutbox } from '../../domain/push-outbox.ts';
import type { HookVerdict, PushService } from '../../domain/pushes.ts';
import type { RepoService } from '../../domain/repos.ts';
import type { PushInFlight, PushesInFlight } from '../git/pushes-in-flight.ts';
import { hookAnswer, parseHookRequest, type HookRequest } from './hook-request.ts';

interface HookDeps {
  hookSessions: HookSessions;
  pushesInFlight: PushesInFlight;
  pushes: PushService;
  outbox: PushOutbox;
  repos: RepoService;
}

const DELETED_DURING_PUSH = 'error: the repository was deleted during the push';

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Refusals travel in the hook's text format too, so the hook shows them and fails closed. */
function refuse(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).type('text/plain').send(hookAnswer(false, [`mlgit: ${message}`]));
}

/**
 * The API that hooks/mlgit-hook.bash calls from inside `git receive-pack`: loopback only, and
 * the push is identified by the one-time secret in the hook's environment.
 */
export function registerHookRoutes(app: FastifyInstance, deps: HookDeps): void {
  app.post<{ Params: { hook: string }; Body: string }>('/internal/hooks/:hook', { bodyLimit: 64 * 1024 * 1024 }, async (request, reply) => {
    if (!isLoopback(request.socket.remoteAddress ?? '')) return refuse(reply, 403, 'the hook API is reachable from loopback only');
    const hook = request.params.hook;
    // post-receive is the server's own step after git answers (server/http/git/post-receive.ts).
    if (hook !== 'pre-receive') return refuse(reply, 404, `unknown hook "${hook}"`);
    let body: HookRequest;
    try {
      body = parseHookRequest(typeof request.body === 'string' ? request.body : '');
    } catch (err) {
      return refuse(reply, 400, `bad hook request: ${(err as Error).message}`);
    }
    const context = deps.hookSessions.get(body.secret);
    const push = deps.pushesInFlight.get(body.secret);
    if (!context || !push) return refuse(reply, 403, 'unknown or expired push session');
    const { timeline } = push;
    // Before the hook started, git was reading the pack.
    if (body.startedAt !== undefined) timeline.mark('git.before-pre-receive', body.startedAt);
    timeline.mark(`hook.${hook}.start`);
    const answer = await preReceive(body, context, push, deps, (err, repoId) => {
      request.log.error({ err, repoId }, 'recording an accepted push failed: it is refused');
    });
    timeline.mark(`api.${hook}`);
    return reply.type('text/plain').send(hookAnswer(answer.ok, answer.messages));
  });
}

async function preReceive(
  body: HookRequest,
  context: PushContext,
  push: PushInFlight,
  deps: HookDeps,
  onRecordError: (err: unknown, repoId: number) => void,
): Promise<HookVerdict> {
  // A repository deleted since the push was authorized fails the outbox insert below (its row names the repository).
  const repo = push.repo ?? (await push.timeline.time('api.pre-receive/repo', () => deps.repos.byId(context.repoId)));
  if (!repo) return { ok: false, messages: [DELETED_DURING_PUSH] };
  const verdict = await deps.pushes.preReceive(repo, context.pusherId, body.updates, body.quarantine, push.timeline.within('api.pre-receive'));
  if (!verdict.ok) return verdict;
  // Recorded before git moves a ref, so no push lands without the runs it owes on record.
  try {
    await push.timeline.time('api.pre-receive/outbox', () => deps.outbox.accept(body.secret, context, body.updates, body.pushOptions));
    push.accepted = body.updates;
    return verdict;
  } catch (err) {
    if (err instanceof DomainError && err.code === 'not_found') return { ok: false, messages: [DELETED_DURING_PUSH] };
    onRecordError(err, repo.id);
    return { ok: false, messages: [...verdict.messages, 'error: mlgit could not record this push (its database is unavailable); nothing changed, try again later'] };
  }
}
