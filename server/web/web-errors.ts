import type { FastifyError, FastifyInstance } from 'fastify';
import { DomainError, forbidden } from '../domain/errors.ts';
import { STATUS } from '../http/errors.ts';
import type { Web } from './context.ts';
import { errorPage, errorTitle } from './views/error-page.ts';

/**
 * Errors of the web UI are pages with their status, never a stack trace or JSON. A page that needs
 * a signed-in user sends an anonymous visitor to the sign-in form and back (what the API answers
 * with 401); a private repository's page to a signed-in outsider is the same 404 as a missing one.
 */
export function registerWebErrors(app: FastifyInstance, web: Web): void {
  app.setErrorHandler(async (err: FastifyError | DomainError | Error, request, reply) => {
    let status: number;
    let message: string;
    if (err instanceof DomainError) {
      status = STATUS[err.code];
      message = err.message;
      if (status === 401 && (request.method === 'GET' || request.method === 'HEAD')) return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
      if (err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(err.retryAfterSeconds));
    } else if (typeof (err as FastifyError).statusCode === 'number' && (err as FastifyError).statusCode! < 500) {
      status = (err as FastifyError).statusCode!;
      message = err.message;
    } else {
      request.log.error({ err }, 'page failed');
      status = 500;
      message = `internal error (request id ${request.id})`;
    }
    return web.page(request, reply, errorTitle(status), errorPage(status, message), { status });
  });
}

/** Every state-changing form carries the session's CSRF token (checked before the handler runs). */
export function requireCsrf(app: FastifyInstance, web: Web): void {
  app.addHook('preHandler', async (request) => {
    if (request.method === 'GET' || request.method === 'HEAD') return;
    const token = (request.body as Record<string, unknown> | undefined)?._csrf;
    const { session } = await web.viewer(request);
    if (!web.sessions.checkCsrf(session, token)) throw forbidden('the form has expired or did not come from this site; reload the page and try again');
  });
}
