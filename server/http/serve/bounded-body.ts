// A proxied request's body, read whole before the model sees a byte: capped in size (413) and in
// time (408), so an oversized upload or a client dripping its body (slowloris) costs mlgit a
// bounded buffer and a bounded wait, and never reaches the model server.
import type { IncomingMessage } from 'node:http';
import { DomainError } from '../../domain/errors.ts';

/** A 4xx that the error handler answers with the request's own status (Fastify's statusCode convention). */
export class RequestRefused extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function readBoundedBody(raw: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const declared = raw.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.reject(new DomainError('too_large', `request body of ${declared} bytes is over the ${maxBytes}-byte limit of model requests`));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error: Error | null) => {
      clearTimeout(timer);
      raw.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) finish(new DomainError('too_large', `request body is over the ${maxBytes}-byte limit of model requests`));
      else chunks.push(chunk);
    };
    const onEnd = () => finish(null);
    const onError = (error: Error) => finish(error);
    const onAborted = () => finish(new RequestRefused(400, 'bad_request', 'the client closed the request before its body ended'));
    // The answer to a client this slow goes out with Connection: close (settleUnreadBody).
    const timer = setTimeout(() => finish(new RequestRefused(408, 'request_timeout', `the request body did not arrive within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    raw.on('data', onData).once('end', onEnd).once('error', onError).once('aborted', onAborted);
  });
}
