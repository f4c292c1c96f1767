import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../../db/connect.ts';
import { errorSchema } from './schemas/common.ts';

const statusOnly = { type: 'object', properties: { status: { type: 'string' } } } as const;

export function registerHealthRoutes(app: FastifyInstance, db: Db): void {
  app.get('/healthz', { schema: { summary: 'Liveness: the process answers', response: { 200: statusOnly } } }, async () => ({ status: 'ok' }));
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the database answers',
        response: { 200: statusOnly, 503: { type: 'object', properties: { ...statusOnly.properties, ...errorSchema.properties } } },
      },
    },
    async (request, reply) => {
      try {
        await sql`select 1`.execute(db);
        return { status: 'ready' };
      } catch (err) {
        request.log.error({ err }, 'database not reachable');
        return reply.code(503).send({ status: 'unavailable', error: { code: 'database_unreachable', message: 'database not reachable' } });
      }
    },
  );
}
