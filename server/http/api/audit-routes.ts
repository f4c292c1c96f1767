import type { FastifyInstance } from 'fastify';
import { isSiteAdmin } from '../../domain/access.ts';
import { AUDIT_ACTIONS, type AuditLog } from '../../domain/audit.ts';
import { forbidden } from '../../domain/errors.ts';
import { type Authenticate, requirePrincipal } from '../authenticate.ts';
import { sendWithEtag } from './etag.ts';
import { parsePage, setPageHeaders } from './pagination.ts';
import { errors, notModified, pageQueryProperties } from './schemas/common.ts';


export const auditEntrySchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    action: { type: 'string', enum: [...AUDIT_ACTIONS] },
    actor_id: { type: ['integer', 'null'] },
    actor: { type: ['string', 'null'] },
    target: { type: ['string', 'null'] },
    details: { type: ['object', 'null'], additionalProperties: true },
    address: { type: ['string', 'null'] },
    created_at: { type: 'string', format: 'date-time' },
  },
} as const;

/** The audit log, newest first, for site admins (an admin user with an admin-scoped credential). */
export function registerAuditRoutes(app: FastifyInstance, deps: { audit: AuditLog; authenticate: Authenticate }): void {
  app.get<{ Querystring: { page?: string; per_page?: string; action?: string; actor?: string } }>(
    '/api/v1/admin/audit',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { ...pageQueryProperties, action: { type: 'string', enum: [...AUDIT_ACTIONS] }, actor: { type: 'string', maxLength: 200 } },
        },
        response: { 200: { type: 'array', items: auditEntrySchema }, 304: notModified, ...errors },
      },
    },
    async (request, reply) => {
      const principal = await requirePrincipal(deps.authenticate, request);
      if (!isSiteAdmin(principal)) throw forbidden('the audit log is for admins');
      const page = parsePage(request.query);
      const { entries, total } = await deps.audit.list({ action: request.query.action, actor: request.query.actor }, page);
      setPageHeaders(request, reply, page, total);
      return sendWithEtag(
        request,
        reply,
        entries.map((e) => ({ id: e.id, action: e.action, actor_id: e.actorId, actor: e.actor, target: e.target, details: e.details, address: e.address, created_at: e.createdAt.toISOString() })),
      );
    },
  );
}
