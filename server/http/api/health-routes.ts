import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../../db/connect.ts';

export function registerHealthRoutes(app: FastifyInstance, db: Db): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    try {
      await sql`select 1`.execute(db);
      return { status: 'ready' };
    } catch (err) {
      request.log.error({ err }, 'database not reachable');
      return reply.code(503).send({ status: 'unavailable', error: { code: 'database_unreachable', message: 'database not reachable' } });
    }
  });
}
