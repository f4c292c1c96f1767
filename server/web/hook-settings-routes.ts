import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from '../domain/errors.ts';
import type { Principal, Repo } from '../domain/model.ts';
import type { Web } from './context.ts';
import { headerFor, type RepoParams } from './repo-pages.ts';
import { adminRepo, type Form, formRefusal, keptValues, noticeOf, ticked } from './settings-pages.ts';
import { repoPath } from './views/parts.ts';
import { deliveryPage, hookPage, type HookView } from './views/hook-settings.ts';

type HookParams = RepoParams & { id: string };
type DeliveryParams = HookParams & { delivery: string };
type HookRequest = FastifyRequest<{ Params: HookParams; Querystring: { page?: string; done?: string }; Body: Form }>;
type DeliveryRequest = FastifyRequest<{ Params: DeliveryParams }>;

const PER_PAGE = 20;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NOTICES = { saved: 'Webhook saved.', created: 'Webhook added: its ping delivery is below (reload to see how it went).', redelivered: 'Queued again as a new delivery.' };

/** Hook ids as people edit URLs: anything that is not one is the missing hook's page. */
function hookId(raw: string): number {
  const id = Number(raw);
  if (!/^[1-9][0-9]{0,9}$/.test(raw) || !Number.isSafeInteger(id)) throw notFound('hook');
  return id;
}

function deliveryId(raw: string): string {
  if (!UUID.test(raw)) throw notFound('delivery');
  return raw;
}

/** One webhook's page with its delivery log, one delivery (request and response), delete and redeliver: WebhookService, as the API's hook routes. */
export function registerHookSettingsRoutes(app: FastifyInstance, web: Web): void {
  const { webhooks, audit } = web.deps;
  const hookUrl = (repo: Repo, id: number) => repoPath(repo, 'settings', 'hooks', String(id));

  /** The hook's page: settings form, delivery log; with a refused edit, the reason and what was typed. */
  async function show(request: HookRequest, reply: FastifyReply, repo: Repo, principal: Principal, id: number, error: HookView['error'] = null, status = 200) {
    const page = Math.max(1, Math.min(10_000, Math.trunc(Number(request.query.page)) || 1));
    const hook = await webhooks.get(principal, repo.owner, repo.name, id);
    const { deliveries, total } = await webhooks.deliveries(principal, repo.owner, repo.name, id, { page, perPage: PER_PAGE });
    const view = hookPage({
      header: await headerFor(web, request, reply, repo, 'settings', 'admin'),
      csrf: await web.csrf(request, reply),
      hook,
      deliveries,
      total,
      notice: error ? null : noticeOf(NOTICES, request.query.done),
      error,
      paging: { page, last: Math.max(1, Math.ceil(total / PER_PAGE)), url: (n) => `${hookUrl(repo, id)}?page=${n}` },
    });
    return web.page(request, reply, `Webhook · ${repo.owner}/${repo.name}`, view, { status });
  }

  app.get('/:owner/:repo/settings/hooks/:id', async (request: HookRequest, reply) => {
    const found = await adminRepo(web, request);
    if (!found) return reply.callNotFound();
    return show(request, reply, found.repo, found.principal, hookId(request.params.id));
  });

  // Edit: URL, events, on/off (switching a hook back on clears the failures that switched it off), a new secret.
  app.post('/:owner/:repo/settings/hooks/:id', async (request: HookRequest, reply) => {
    const found = await adminRepo(web, request);
    if (!found) return reply.callNotFound();
    const { repo, principal } = found;
    const id = hookId(request.params.id);
    const body = request.body;
    const patch = { url: body.url ?? '', events: ticked(body, 'event'), active: body.active === 'on', ...(body.secret ? { secret: body.secret } : {}) };
    try {
      await webhooks.update(principal, repo.owner, repo.name, id, patch);
    } catch (err) {
      const refusal = formRefusal(err);
      if (!refusal) throw err;
      return show(request, reply, repo, principal, id, { message: refusal.message, values: keptValues(body, ['secret']) }, refusal.status);
    }
    return reply.redirect(`${hookUrl(repo, id)}?done=saved`, 303);
  });

  app.post('/:owner/:repo/settings/hooks/:id/delete', async (request: HookRequest, reply) => {
    const found = await adminRepo(web, request);
    if (!found) return reply.callNotFound();
    const { repo, principal } = found;
    const hook = await webhooks.remove(principal, repo.owner, repo.name, hookId(request.params.id));
    await audit.record({ action: 'hook.delete', actor: principal.user, target: `${repo.owner}/${repo.name}`, details: { hook_id: hook.id, url: hook.url }, address: request.ip });
    return reply.redirect(`${repoPath(repo, 'settings')}?done=hook-deleted#webhooks`, 303);
  });

  app.get('/:owner/:repo/settings/hooks/:id/deliveries/:delivery', async (request: DeliveryRequest, reply) => {
    const found = await adminRepo(web, request);
    if (!found) return reply.callNotFound();
    const { repo, principal } = found;
    const id = hookId(request.params.id);
    const hook = await webhooks.get(principal, repo.owner, repo.name, id);
    const delivery = await webhooks.delivery(principal, repo.owner, repo.name, id, deliveryId(request.params.delivery));
    const header = await headerFor(web, request, reply, repo, 'settings', 'admin');
    return web.page(request, reply, `Delivery ${delivery.id.slice(0, 8)} · ${repo.owner}/${repo.name}`, deliveryPage({ header, csrf: await web.csrf(request, reply), hook, delivery }));
  });

  app.post('/:owner/:repo/settings/hooks/:id/deliveries/:delivery/redeliver', async (request: DeliveryRequest, reply) => {
    const found = await adminRepo(web, request);
    if (!found) return reply.callNotFound();
    const { repo, principal } = found;
    const id = hookId(request.params.id);
    await webhooks.redeliver(principal, repo.owner, repo.name, id, deliveryId(request.params.delivery));
    return reply.redirect(`${hookUrl(repo, id)}?done=redelivered`, 303);
  });
}
