import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { DomainError } from '../../domain/errors.ts';
import { REALM, settleUnreadBody, STATUS } from '../errors.ts';

/** The `X-Error-Code` values Hugging Face clients turn into their own exceptions (huggingface_hub utils/_http.py). */
export type HubErrorCode = 'RepoNotFound' | 'RevisionNotFound' | 'EntryNotFound';

/** An error answered the Hub's way: a status, `{"error": message}`, and `X-Error-Code` where the Hub sends one. */
export class HubError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hubCode?: HubErrorCode,
  ) {
    super(message);
  }
}

export const repoNotFound = (status = 404) => new HubError(status, 'Repository not found', 'RepoNotFound');
export const revisionNotFound = (revision: string) => new HubError(404, `Invalid rev id: ${revision}`, 'RevisionNotFound');
export const entryNotFound = (path: string) => new HubError(404, `Entry not found: ${path}`, 'EntryNotFound');
export const badRequest = (message: string) => new HubError(400, message);

/** Header values must be ISO-8859-1 without control characters; messages may quote user input. */
function headerSafe(message: string): string {
  return message.replace(/[^\x20-\x7e]/g, '?').slice(0, 500);
}

export async function sendHubError(reply: FastifyReply, status: number, message: string, hubCode?: HubErrorCode): Promise<FastifyReply> {
  await settleUnreadBody(reply);
  if (hubCode) reply.header('X-Error-Code', hubCode);
  if (status === 401) reply.header('WWW-Authenticate', REALM);
  reply.header('X-Error-Message', headerSafe(message));
  // HEAD answers carry the headers only; clients read X-Error-Code from them.
  return reply.code(status).type('application/json; charset=utf-8').send(reply.request.method === 'HEAD' ? undefined : { error: message });
}

/**
 * Errors inside the Hub routes: HubErrors as they are, domain errors with their usual status (and
 * message) in the Hub's body shape, anything else a 500 whose cause is logged, not shown.
 */
export function registerHubErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | DomainError | HubError | Error, request, reply) => {
    if (err instanceof HubError) return sendHubError(reply, err.status, err.message, err.hubCode);
    if (err instanceof DomainError) {
      if (err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(err.retryAfterSeconds));
      return sendHubError(reply, STATUS[err.code], err.message);
    }
    const status = (err as FastifyError).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) return sendHubError(reply, status, err.message);
    request.log.error({ err }, 'hub API request failed');
    return sendHubError(reply, 500, `internal error (request id ${request.id})`);
  });
}
