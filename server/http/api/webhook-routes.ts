import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditLog } from '../../domain/audit.ts';
import { invalid } from '../../domain/errors.ts';
import { WEBHOOK_EVENTS } from '../../domain/webhook-payloads.ts';
import type { Delivery, Hook, HookInput, WebhookService } from '../../domain/webhooks.ts';
import { type Authenticate, requirePrincipal } from '../authenticate.ts';
import { sendWithEtag } from './etag.ts';
import { parsePage, setPageHeaders } from './pagination.ts';
import { errors, noContent, notModified, pageQuery, repoParams, repoParamsWith } from './schemas/common.ts';

type RepoParams = { owner: string; name: string };
type HookParams = RepoParams & { id: string };
type DeliveryParams = HookParams & { delivery: string };

const hookIdParam = { id: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } } as const;
const hookParams = repoParamsWith(hookIdParam);
const deliveryParams = repoParamsWith({ ...hookIdParam, delivery: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' } });

const hookBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    url: { type: 'string' },
    secret: { type: ['string', 'null'] },
    events: { type: 'array', items: { type: 'string', enum: [...WEBHOOK_EVENTS] } },
    active: { type: 'boolean' },
    content_type: { type: 'string', enum: ['json'] },
  },
} as const;

const hookSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    url: { type: 'string' },
    events: { type: 'array', items: { type: 'string' } },
    active: { type: 'boolean' },
    content_type: { type: 'string' },
    has_secret: { type: 'boolean' },
    consecutive_failures: { type: 'integer' },
    disabled_reason: { type: ['string', 'null'] },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
} as const;

const headerMap = { type: ['object', 'null'], additionalProperties: { type: 'string' } } as const;
const deliverySummary = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    event: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
    attempts: { type: 'integer' },
    response_status: { type: ['integer', 'null'] },
    error: { type: ['string', 'null'] },
    duration_ms: { type: ['integer', 'null'] },
    redelivery_of: { type: ['string', 'null'] },
    created_at: { type: 'string', format: 'date-time' },
    last_attempt_at: { type: ['string', 'null'], format: 'date-time' },
    next_attempt_at: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;
const deliveryFull = {
  type: 'object',
  properties: {
    ...deliverySummary.properties,
    url: { type: 'string' },
    request: { type: 'object', properties: { headers: headerMap, body: { type: 'string' } } },
    response: { type: 'object', properties: { status: { type: ['integer', 'null'] }, headers: headerMap, body: { type: ['string', 'null'] } } },
  },
} as const;

export const webhookSchemas = { hookBody, hookSchema, deliverySummary, deliveryFull };

/** A hook as the API shows it: never the secret, only whether there is one. */
export function presentHook(hook: Hook) {
  return {
    id: hook.id,
    url: hook.url,
    events: hook.events,
    active: hook.active,
    content_type: 'json',
    has_secret: hook.hasSecret,
    consecutive_failures: hook.consecutiveFailures,
    disabled_reason: hook.disabledReason,
    created_at: hook.createdAt.toISOString(),
    updated_at: hook.updatedAt.toISOString(),
  };
}

function presentDeliverySummary(d: Delivery) {
  return {
    id: d.id,
    event: d.event,
    status: d.status,
    attempts: d.attempts,
    response_status: d.responseStatus,
    error: d.error,
    duration_ms: d.durationMs,
    redelivery_of: d.redeliveryOf,
    created_at: d.createdAt.toISOString(),
    last_attempt_at: d.lastAttemptAt?.toISOString() ?? null,
    next_attempt_at: d.nextAttemptAt?.toISOString() ?? null,
  };
}

export function presentDelivery(d: Delivery) {
  return {
    ...presentDeliverySummary(d),
    url: d.url,
    request: { headers: d.requestHeaders, body: d.requestBody },
    response: { status: d.responseStatus, headers: d.responseHeaders, body: d.responseBody },
  };
}

function hookId(raw: string): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id <= 0) throw invalid('hook id must be a positive integer');
  return id;
}

export function registerWebhookRoutes(app: FastifyInstance, deps: { webhooks: WebhookService; audit: AuditLog; authenticate: Authenticate }): void {
  const { webhooks, audit, authenticate } = deps;
  const base = '/api/v1/repos/:owner/:name/hooks';
  const principalOf = (request: FastifyRequest) => requirePrincipal(authenticate, request);

  app.post<{ Params: RepoParams; Body: HookInput }>(
    base,
    { schema: { params: repoParams, body: { ...hookBody, required: ['url'] }, response: { 201: hookSchema, ...errors } } },
    async (request, reply) => {
      const principal = await principalOf(request);
      const hook = await webhooks.create(principal, request.params.owner, request.params.name, request.body);
      await audit.record({ action: 'hook.create', actor: principal.user, target: `${request.params.owner}/${request.params.name}`, details: { hook_id: hook.id, url: hook.url, events: hook.events }, address: request.ip });
      return reply.code(201).send(presentHook(hook));
    },
  );

  app.get<{ Params: RepoParams; Querystring: { page?: string; per_page?: string } }>(
    base,
    { schema: { params: repoParams, querystring: pageQuery, response: { 200: { type: 'array', items: hookSchema }, 304: notModified, ...errors } } },
    async (request, reply) => {
      const page = parsePage(request.query);
      const { hooks, total } = await webhooks.list(await principalOf(request), request.params.owner, request.params.name, page);
      setPageHeaders(request, reply, page, total);
      return sendWithEtag(request, reply, hooks.map(presentHook));
    },
  );

  app.get<{ Params: HookParams }>(`${base}/:id`, { schema: { params: hookParams, response: { 200: hookSchema, 304: notModified, ...errors } } }, async (request, reply) => {
    const { owner, name, id } = request.params;
    return sendWithEtag(request, reply, presentHook(await webhooks.get(await principalOf(request), owner, name, hookId(id))));
  });

  app.patch<{ Params: HookParams; Body: HookInput }>(
    `${base}/:id`,
    { schema: { params: hookParams, body: hookBody, response: { 200: hookSchema, ...errors } } },
    async (request) => {
      const { owner, name, id } = request.params;
      return presentHook(await webhooks.update(await principalOf(request), owner, name, hookId(id), request.body));
    },
  );

  app.delete<{ Params: HookParams }>(`${base}/:id`, { schema: { params: hookParams, response: { 204: noContent, ...errors } } }, async (request, reply) => {
    const principal = await principalOf(request);
    const { owner, name, id } = request.params;
    const hook = await webhooks.remove(principal, owner, name, hookId(id));
    await audit.record({ action: 'hook.delete', actor: principal.user, target: `${owner}/${name}`, details: { hook_id: hook.id, url: hook.url }, address: request.ip });
    return reply.code(204).send();
  });

  app.get<{ Params: HookParams; Querystring: { page?: string; per_page?: string } }>(
    `${base}/:id/deliveries`,
    { schema: { params: hookParams, querystring: pageQuery, response: { 200: { type: 'array', items: deliverySummary }, ...errors } } },
    async (request, reply) => {
      const page = parsePage(request.query);
      const { owner, name, id } = request.params;
      const { deliveries, total } = await webhooks.deliveries(await principalOf(request), owner, name, hookId(id), page);
      setPageHeaders(request, reply, page, total);
      return deliveries.map(presentDeliverySummary);
    },
  );

  app.get<{ Params: DeliveryParams }>(`${base}/:id/deliveries/:delivery`, { schema: { params: deliveryParams, response: { 200: deliveryFull, ...errors } } }, async (request) => {
    const { owner, name, id, delivery } = request.params;
    return presentDelivery(await webhooks.delivery(await principalOf(request), owner, name, hookId(id), delivery));
  });

  app.post<{ Params: DeliveryParams }>(
    `${base}/:id/deliveries/:delivery/redeliver`,
    { schema: { params: deliveryParams, response: { 202: deliverySummary, ...errors } } },
    async (request, reply) => {
      const { owner, name, id, delivery } = request.params;
      return reply.code(202).send(presentDeliverySummary(await webhooks.redeliver(await principalOf(request), owner, name, hookId(id), delivery)));
    },
  );
}
