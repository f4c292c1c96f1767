import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DomainError } from '../../domain/errors.ts';

/**
 * A request body git cannot make sense of (bad framing, bad gzip): 400 `bad_git_request`, the
 * same answer whether mlgit or git itself notices. The error handler maps its statusCode.
 */
export class BadGitRequest extends Error {
  readonly statusCode = 400;
  readonly code = 'bad_git_request';
}

/** Fails the stream once more than `max` bytes have passed (the cap applies after gunzip). */
function byteCap(max: number, what: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > max) callback(new DomainError('too_large', `${what} is larger than the server's limit of ${max} bytes`));
      else callback(null, chunk);
    },
  });
}

/**
 * The request body as git should see it: gunzipped when the client gzipped it (git does for
 * large negotiations), capped, and streamed (chunked bodies need no Content-Length).
 */
export function gitRequestBody(raw: IncomingMessage, max: number, what: string): Readable {
  const encoding = (raw.headers['content-encoding'] ?? '').toLowerCase();
  if (encoding !== '' && encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip') {
    throw new DomainError('unsupported_media_type', `unsupported Content-Encoding "${encoding}"`);
  }
  const cap = byteCap(max, what);
  const forward = (err: Error) => cap.destroy(err);
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    const gunzip = createGunzip();
    gunzip.on('error', () => forward(new BadGitRequest('malformed git request: request body is not valid gzip')));
    raw.on('error', forward);
    return raw.pipe(gunzip).pipe(cap);
  }
  raw.on('error', forward);
  return raw.pipe(cap);
}

/**
 * upload-pack may answer before it has read all its input while the client sends everything
 * before reading: a half-duplex deadlock. So its request is read whole first (with a cap, as
 * git http-backend does).
 */
export async function readWhole(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
