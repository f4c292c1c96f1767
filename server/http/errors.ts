import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { DomainError, type ErrorCode } from '../domain/errors.ts';

export const STATUS: Record<ErrorCode, number> = {
  invalid: 422,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  unsupported_media_type: 415,
  unavailable: 503,
};

export const REALM = 'Basic realm="mlgit"';

/**
 * Fastify's own request errors, translated at the edge so clients see the domain's codes and
 * statuses: a body that fails its schema is `invalid` (422) exactly like one the domain rejects,
 * so the same bad name gets the same answer whichever layer catches it.
 */
const FRAMEWORK: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_VALIDATION: { status: 422, code: 'invalid' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'bad_request', message: 'request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'bad_request', message: 'request body is empty but Content-Type is application/json' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'too_large', message: 'request body is larger than the server accepts' },
};

const DRAIN_BYTES = 16 * 1024 * 1024;
const DRAIN_MS = 2000;

/**
 * Answering before the request body was read (a refused push, a body over its cap, a wrong
 * Content-Type, a full disk): read and discard a bounded rest of the body first, so a client
 * still sending gets the answer instead of a broken pipe and the connection stays usable.
 * A body larger than that (up to gigabytes) is not read: the connection closes after the answer.
 */
export async function settleUnreadBody(reply: FastifyReply): Promise<void> {
  const raw = reply.request.raw;
  if (raw.complete) return;
  await new Promise<void>((resolve) => {
    let seen = 0;
    const timer = setTimeout(finish, DRAIN_MS);
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DRAIN_BYTES) finish();
    };
    function finish() {
      clearTimeout(timer);
      raw.off('data', onData).off('end', finish).off('error', finish).off('close', finish);
      resolve();
    }
    raw.on('data', onData).once('end', finish).once('error', finish).once('close', finish);
    raw.resume();
  });
  if (!raw.complete) reply.header('Connection', 'close');
}

export async function sendError(reply: FastifyReply, status: number, code: string, message: string): Promise<FastifyReply> {
  await settleUnreadBody(reply);
  return reply.code(status).type('application/json').send({ error: { code, message } });
}

/** Error codes of a database that is down, restarting or out of reach (node errno and Postgres SQLSTATE classes 08 and 57P). */
const DATABASE_DOWN = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  '08000', '08001', '08003', '08006', '57P01', '57P02', '57P03',
]);
const DATABASE_RETRY_AFTER_SECONDS = 5;

function isDatabaseDown(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  // node-postgres says these without a code: a connection that broke (also mid-query), a client
  // left unusable by it, a pool that could not connect in time.
  return (code !== undefined && DATABASE_DOWN.has(code)) || /Connection terminated|connection to server .* failed|not queryable|timeout exceeded when trying to connect/i.test(err.message);
}

/**
 * One map from domain errors to HTTP; anything unexpected is a 500 whose message is logged, not
 * shown. Two conditions of the machine are not bugs and are said as such: a full disk (507, the
 * status git-lfs and WebDAV clients understand, naming the data dir so an admin knows where to
 * look) and an unreachable database (503 with Retry-After: clients and proxies retry).
 */
export function registerErrorHandler(app: FastifyInstance, where: { dataDir: string }): void {
  app.setErrorHandler((err: FastifyError | DomainError | Error, request, reply) => {
    if (err instanceof DomainError) {
      const status = STATUS[err.code];
      if (status === 401) reply.header('WWW-Authenticate', REALM);
      if (err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(err.retryAfterSeconds));
      return sendError(reply, status, err.code, err.message);
    }
    const fastifyError = err as FastifyError;
    const translated = fastifyError.validation ? FRAMEWORK.FST_ERR_VALIDATION : fastifyError.code ? FRAMEWORK[fastifyError.code] : undefined;
    if (translated) return sendError(reply, translated.status, translated.code, translated.message ?? err.message);
    const status = fastifyError.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(reply, status, fastifyError.code ?? 'bad_request', err.message);
    }
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
      request.log.error({ err }, 'out of disk space');
      return sendError(reply, 507, 'insufficient_storage', `the server is out of storage space in its data dir (${where.dataDir}); try again after an administrator frees space`);
    }
    if (isDatabaseDown(err)) {
      request.log.error({ err }, 'database unreachable');
      reply.header('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
      return sendError(reply, 503, 'unavailable', `the server's database is unreachable; try again in ${DATABASE_RETRY_AFTER_SECONDS} seconds`);
    }
    request.log.error({ err }, 'request failed');
    return sendError(reply, 500, 'internal', `internal error (request id ${request.id})`);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, 404, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]}`));
}
