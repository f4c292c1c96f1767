import type { FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import type { parseRange } from '../../lfs/range.ts';

type Part = { start: number; end: number };

/**
 * Answers a download of `size` bytes as clients that resume or probe expect (git-lfs, the HF
 * clients, model downloads): 416 naming the size for a range outside the object, 206 with the
 * part, else 200 with the whole; HEAD gets the headers only. `range` is what the caller made of
 * the request (null: the whole object, e.g. when an If-Range validator did not match).
 */
export async function sendByteRange(
  request: FastifyRequest,
  reply: FastifyReply,
  size: number,
  range: ReturnType<typeof parseRange>,
  open: (part?: Part) => unknown,
): Promise<FastifyReply> {
  reply.header('Accept-Ranges', 'bytes');
  if (range === 'unsatisfiable') return reply.code(416).header('Content-Range', `bytes */${size}`).send();
  // HEAD: an empty stream rather than no body, or Fastify's HEAD twin of a GET route would
  // answer Content-Length: 0; the object itself is never opened.
  const head = request.method === 'HEAD';
  if (range) {
    reply.code(206).header('Content-Range', `bytes ${range.start}-${range.end}/${size}`).header('Content-Length', String(range.end - range.start + 1));
    return reply.send(head ? Readable.from([]) : await open(range));
  }
  reply.header('Content-Length', String(size));
  return reply.send(head ? Readable.from([]) : size === 0 ? undefined : await open());
}
