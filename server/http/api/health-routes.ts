import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../../db/connect.ts';
import { errorSchema } from './schemas/common.ts';

const statusOnly = { type: 'object', properties: { status: { type: 'string' } } } as const;
const readiness = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    queue: { type: 'string', enum: ['ok', 'unreachable'] },
    object_store: { type: 'string', enum: ['ok', 'unreachable'] },
    // Accepted ref updates whose push is not finished yet (recorded, runs dispatched); null without the database.
    push_outbox_backlog: { type: ['integer', 'null'] },
  },
} as const;
/** Redis answers a PING (and S3 a HEAD) in well under this when it is up. */
const QUEUE_PING_MS = 1000;

interface HealthDeps {
  db: Db;
  /** Whether the job queue's backing service answers (always, for the in-process queue). */
  queueReachable: (timeoutMs: number) => Promise<boolean>;
  outboxBacklog: () => Promise<number>;
  /** Whether the object store (the data dir, or S3) answers within `timeoutMs`. */
  storeReachable: (timeoutMs: number) => Promise<boolean>;
}

export function registerHealthRoutes(app: FastifyInstance, { db, queueReachable, outboxBacklog, storeReachable }: HealthDeps): void {
  const alive = async () => ({ status: 'ok' });
  // /livez is the Kubernetes name; /healthz stays for what already probes it. Neither looks at
  // dependencies: a database outage must not get a healthy process restarted.
  app.get('/livez', { schema: { summary: 'Liveness: the process answers', response: { 200: statusOnly } } }, alive);
  app.get('/healthz', { schema: { summary: 'Liveness: the process answers (same as /livez)', response: { 200: statusOnly } } }, alive);
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the database, the job queue and the object store answer; the push outbox backlog',
        response: { 200: readiness, 503: { type: 'object', properties: { ...readiness.properties, ...errorSchema.properties } } },
      },
    },
    async (request, reply) => {
      const [database, queueUp, storeUp, backlog] = await Promise.all([
        sql`select 1`.execute(db).then(
          () => true,
          (err: unknown) => {
            request.log.error({ err }, 'database not reachable');
            return false;
          },
        ),
        queueReachable(QUEUE_PING_MS),
        storeReachable(QUEUE_PING_MS),
        outboxBacklog().catch(() => null),
      ]);
      const body = { queue: queueUp ? 'ok' : 'unreachable', object_store: storeUp ? 'ok' : 'unreachable', push_outbox_backlog: backlog };
      if (!database) return reply.code(503).send({ status: 'unavailable', ...body, error: { code: 'database_unreachable', message: 'database not reachable' } });
      if (!queueUp) return reply.code(503).send({ status: 'unavailable', ...body, error: { code: 'queue_unreachable', message: 'job queue (Redis) not reachable' } });
      if (!storeUp) return reply.code(503).send({ status: 'unavailable', ...body, error: { code: 'object_store_unreachable', message: 'object store not reachable' } });
      return { status: 'ready', ...body };
    },
  );
}
