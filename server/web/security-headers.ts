import type { FastifyInstance } from 'fastify';

/**
 * Every response of the web UI: no inline script, no eval, no plugins, no framing, no <base>
 * rewriting and forms only to this origin, so hostile text that slipped through escaping still
 * could not run. A route may set a stricter policy of its own (raw files: sandboxed).
 */
export const PAGE_CSP = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export function addSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply) => {
    if (!reply.hasHeader('Content-Security-Policy')) reply.header('Content-Security-Policy', PAGE_CSP);
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'same-origin');
    reply.header('X-Frame-Options', 'DENY');
  });
}
