// Feeds every HTTP exchange to the meter: the route pattern Fastify matched (never the raw URL,
// which names repositories), status, latency and the bytes on the wire.
import type { FastifyInstance } from 'fastify';
import type { Socket } from 'node:net';
import { gitOperationOf, meter } from './meter.ts';

/** Requests that matched no route share one label, so scanners cannot grow the series without bound. */
const UNMATCHED = 'unmatched';

/**
 * Bytes are counted per connection: an exchange is charged what its socket moved since the
 * previous exchange on it ended. A keep-alive connection serves one request at a time, so this
 * is the request with its body and the answer with its body, headers included; reading from
 * the socket this way never touches the streams the routes consume.
 */
export function registerHttpMetrics(app: FastifyInstance): void {
  const settled = new WeakMap<Socket, { read: number; written: number }>();
  app.addHook('onResponse', async (request, reply) => {
    const socket = request.raw.socket;
    const before = settled.get(socket) ?? { read: 0, written: 0 };
    const now = { read: socket.bytesRead, written: socket.bytesWritten };
    settled.set(socket, now);
    meter().http({
      route: request.routeOptions.url ?? UNMATCHED,
      method: request.method,
      status: reply.statusCode,
      seconds: reply.elapsedTime / 1000,
      bytesIn: now.read - before.read,
      bytesOut: now.written - before.written,
      body: request.body,
      git: gitOperationOf(request.raw),
    });
  });
}
