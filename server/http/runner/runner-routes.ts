import type { FastifyInstance, FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { RUNNER_MAX_LOG_CHUNK_BYTES, RUNNER_MAX_METRICS_BYTES, type CompleteRequest } from '../../../schema/runner-protocol.ts';
import { invalid, unauthenticated } from '../../domain/errors.ts';
import type { RunLifecycle } from '../../domain/runs/lifecycle.ts';

type RunParams = { id: string };
type AttemptQuery = { attempt?: string };
type LogQuery = AttemptQuery & { seq?: string };

const OID = /^[0-9a-f]{64}$/;

function whole(raw: string | undefined, what: string): number {
  const n = Number(raw);
  if (raw === undefined || !/^[0-9]{1,12}$/.test(raw) || !Number.isSafeInteger(n)) throw invalid(`${what} must be a whole number`);
  return n;
}

const completeBody = {
  type: 'object',
  required: ['attempt', 'outcome', 'exit_code', 'duration_ms'],
  additionalProperties: false,
  properties: {
    attempt: { type: 'integer', minimum: 1 },
    outcome: { enum: ['exited', 'timeout', 'oom', 'cancelled', 'error'] },
    exit_code: { type: ['integer', 'null'] },
    duration_ms: { type: 'number', minimum: 0 },
    message: { type: 'string', maxLength: 8192 },
    metrics: {
      oneOf: [
        { type: 'object', required: ['text'], additionalProperties: false, properties: { text: { type: 'string', maxLength: RUNNER_MAX_METRICS_BYTES } } },
        { type: 'object', required: ['error'], additionalProperties: false, properties: { error: { type: 'string', maxLength: 2000 } } },
      ],
    },
  },
} as const;

/**
 * The API runners speak (runner/api-client.ts is the other side). A runner proves itself with the
 * shared runner token; every call names the run attempt it holds, so a runner that was presumed
 * dead and replaced can no longer change anything.
 */
export function registerRunnerRoutes(app: FastifyInstance, deps: { lifecycle: RunLifecycle; runnerToken: string }): void {
  const wanted = Buffer.from(`Bearer ${deps.runnerToken}`);
  const checkRunner = async (request: FastifyRequest) => {
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) throw unauthenticated('runner token required');
  };

  void app.register(async (runner) => {
    runner.addHook('onRequest', checkRunner);
    // Logs and outputs are streamed through, never parsed.
    runner.addContentTypeParser('application/octet-stream', (_req, _payload, done) => done(null));

    runner.post<{ Params: RunParams; Body: { attempt: number; runner: string } }>(
      '/api/v1/runner/runs/:id/claim',
      { schema: { body: { type: 'object', required: ['attempt', 'runner'], properties: { attempt: { type: 'integer', minimum: 1 }, runner: { type: 'string', maxLength: 200 } } } } },
      async (request) => deps.lifecycle.claim(whole(request.params.id, 'run id'), request.body.attempt, request.body.runner),
    );

    runner.post<{ Params: RunParams; Querystring: AttemptQuery }>('/api/v1/runner/runs/:id/heartbeat', async (request) =>
      deps.lifecycle.heartbeat(whole(request.params.id, 'run id'), whole(request.query.attempt, 'attempt')),
    );

    runner.post<{ Params: RunParams; Querystring: LogQuery }>(
      '/api/v1/runner/runs/:id/log',
      { bodyLimit: RUNNER_MAX_LOG_CHUNK_BYTES },
      async (request) => {
        const length = Number(request.headers['content-length'] ?? NaN);
        if (!(length <= RUNNER_MAX_LOG_CHUNK_BYTES)) throw invalid(`log chunks need a Content-Length of at most ${RUNNER_MAX_LOG_CHUNK_BYTES} bytes`);
        const { seq } = request.query;
        return deps.lifecycle.appendLog(whole(request.params.id, 'run id'), whole(request.query.attempt, 'attempt'), seq === undefined ? undefined : whole(seq, 'seq'), request.raw);
      },
    );

    runner.put<{ Params: RunParams & { '*': string }; Querystring: AttemptQuery & { oid?: string; size?: string } }>(
      '/api/v1/runner/runs/:id/outputs/*',
      async (request, reply) => {
        const { oid } = request.query;
        if (!oid || !OID.test(oid)) throw invalid('oid must be the sha256 of the output (64 lowercase hex)');
        const name = request.params['*'];
        await deps.lifecycle.uploadOutput(whole(request.params.id, 'run id'), whole(request.query.attempt, 'attempt'), name, oid, whole(request.query.size, 'size'), request.raw);
        return reply.code(201).send({ name, oid });
      },
    );

    runner.get<{ Params: RunParams & { oid: string } }>('/api/v1/runner/runs/:id/inputs/:oid', async (request, reply) => {
      if (!OID.test(request.params.oid)) throw invalid('oid must be 64 lowercase hex');
      const input = await deps.lifecycle.input(whole(request.params.id, 'run id'), request.params.oid);
      reply.header('Content-Type', 'application/octet-stream');
      reply.header('Content-Length', String(input.size));
      return reply.send(input.body);
    });

    runner.post<{ Params: RunParams; Body: CompleteRequest }>(
      '/api/v1/runner/runs/:id/complete',
      { schema: { body: completeBody }, bodyLimit: RUNNER_MAX_METRICS_BYTES * 2 },
      async (request) => {
        const run = await deps.lifecycle.complete(whole(request.params.id, 'run id'), request.body);
        return { status: run.status, attempt: run.attempt };
      },
    );
  });
}
