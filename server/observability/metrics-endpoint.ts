// Serves GET /metrics as configured by MLGIT_METRICS (README, "Decisions"): on the main port to
// site admins only, or unauthenticated on a port of its own that only the scraper should reach.
import type { FastifyInstance } from 'fastify';
import http from 'node:http';
import type { Registry } from 'prom-client';
import type { MetricsConfig } from '../config.ts';
import { isSiteAdmin } from '../domain/access.ts';
import { forbidden } from '../domain/errors.ts';
import { type Authenticate, requirePrincipal } from '../http/authenticate.ts';

export function registerMetricsEndpoint(app: FastifyInstance, config: MetricsConfig, registry: Registry, authenticate: Authenticate): void {
  if (config.mode === 'admin') {
    // Hidden from the OpenAPI document: it is an operator's endpoint in Prometheus text format.
    app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      if (!isSiteAdmin(principal)) throw forbidden('metrics are for site admins');
      return reply.type(registry.contentType).send(await registry.metrics());
    });
  } else if (config.mode === 'listen') {
    const server = http.createServer((request, response) => {
      const path = (request.url ?? '').split('?')[0];
      if (request.method !== 'GET' || path !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => {
          app.log.error({ err }, 'collecting metrics failed');
          response.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
        },
      );
    });
    app.addHook('onReady', () => new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        app.log.info({ address: server.address() }, 'metrics listening');
        resolve();
      });
    }));
    app.addHook('onClose', () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())));
  }
}
