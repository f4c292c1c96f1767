import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { DomainError, type ErrorCode } from '../domain/errors.ts';

const STATUS: Record<ErrorCode, number> = {
  invalid: 422,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  unsupported_media_type: 415,
};

export const REALM = 'Basic realm="mlgit"';

export function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}

/** One map from domain errors to HTTP; anything unexpected is a 500 whose message is logged, not shown. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | DomainError | Error, request, reply) => {
    if (err instanceof DomainError) {
      const status = STATUS[err.code];
      if (status === 401) reply.header('WWW-Authenticate', REALM);
      if (err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(err.retryAfterSeconds));
      return sendError(reply, status, err.code, err.message);
    }
    const status = (err as FastifyError).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(reply, status, (err as FastifyError).code ?? 'bad_request', err.message);
    }
    request.log.error({ err }, 'request failed');
    return sendError(reply, 500, 'internal', `internal error (request id ${request.id})`);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, 404, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]}`));
}
