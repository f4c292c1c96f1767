import type { FastifyInstance, FastifyReply } from 'fastify';
import { DomainError } from '../../domain/errors.ts';
import type { HookSessions, PushContext } from '../../domain/hook-sessions.ts';
import type { PushOutbox } from '../../domain/push-outbox.ts';
import type { HookVerdict, PushService } from '../../domain/pushes.ts';
import type { RepoService } from '../../domain/repos.ts';
import { startedRunLines } from '../../domain/runs/links.ts';
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
    if (hook !== 'pre-receive' && hook !== 'post-receive') return refuse(reply, 404, `unknown hook "${hook}"`);
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
    // Before the hook started, git was reading the pack (pre-receive) or moving refs (post-receive).
    if (body.startedAt !== undefined) timeline.mark(hook === 'pre-receive' ? 'git.before-pre-receive' : 'git.between-hooks', body.startedAt);
    timeline.mark(`hook.${hook}.start`);
    const answer = await answerHook(hook, body, context, push, deps, (err, repoId) => {
      request.log.error({ err, repoId }, 'recording an accepted push failed: it is refused');
    });
    timeline.mark(`api.${hook}`);
    return reply.type('text/plain').send(hookAnswer(answer.ok, answer.messages));
  });
}

async function answerHook(
  hook: 'pre-receive' | 'post-receive',
  body: HookRequest,
  context: PushContext,
  push: PushInFlight,
  deps: HookDeps,
  onRecordError: (err: unknown, repoId: number) => void,
): Promise<HookVerdict> {
  if (hook === 'post-receive') return answerPostReceive(body, context, push, deps);
  // A repository deleted since the push was authorized fails the outbox insert below (its row names the repository).
  const repo = push.repo ?? (await push.timeline.time(`api.${hook}/repo`, () => deps.repos.byId(context.repoId)));
  if (!repo) return { ok: false, messages: [DELETED_DURING_PUSH] };
  const verdict = await deps.pushes.preReceive(repo, context.pusherId, body.updates, body.quarantine, push.timeline.within('api.pre-receive'));
  if (!verdict.ok) return verdict;
  push.mayStartRuns = verdict.runs !== 0;
  // Recorded before git moves a ref, so no push lands without the runs it owes on record.
  try {
    await push.timeline.time('api.pre-receive/outbox', () => deps.outbox.accept(body.secret, context, body.updates, body.pushOptions));
    return verdict;
  } catch (err) {
    if (err instanceof DomainError && err.code === 'not_found') return { ok: false, messages: [DELETED_DURING_PUSH] };
    onRecordError(err, repo.id);
    return { ok: false, messages: [...verdict.messages, 'error: mlgit could not record this push (its database is unavailable); nothing changed, try again later'] };
  }
}

/**
 * The push has landed whatever happens here, so this never fails: what cannot finish now (the
 * database or the job queue is down) the reconciler finishes, and the pusher is told.
 */
async function answerPostReceive(body: HookRequest, context: PushContext, push: PushInFlight, deps: HookDeps): Promise<HookVerdict> {
  const recording = push.timeline.time('api.post-receive/finish', () => deps.outbox.deliver(body.secret, body.updates));
  if (push.mayStartRuns === false) {
    // Nothing to name to the pusher: git goes on (the hook exits, receive-pack ends) while the
    // push is recorded; the push's answer waits for both (smart-http.ts). Should the recording
    // not finish now, the reconciler does, as it would after a warning.
    push.recording = recording;
    return { ok: true, messages: [] };
  }
  const delivery = await recording;
  const messages: string[] = [];
  // Only for the links of the runs: the repository as the push was authorized, else as the database has it.
  const repo = delivery.runs.length > 0 ? (push.repo ?? (await deps.repos.byId(context.repoId).catch(() => null))) : null;
  if (repo) messages.push(...startedRunLines(push.baseUrl, `${repo.owner}/${repo.name}`, delivery.runs));
  if (!delivery.complete) messages.push('warning: mlgit could not finish recording this push now (database or job queue unavailable); it has landed, and its runs will start when the service is back');
  return { ok: true, messages };
}
