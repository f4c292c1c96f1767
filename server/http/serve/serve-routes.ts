// The serving proxy (issue 11, "Serving"): requests to deployed models go through mlgit under
// /serve/:owner/:repo/, with the repository's access rules. The Open Inference Protocol (KServe v2)
// paths of a model, and a plain pass-through /serve/:owner/:repo/:model/* for servers with an API
// of their own. A model named `v2` is reached through the v2 paths only.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DeploymentService } from '../../domain/deployments/service.ts';
import { Unavailable, type Lease } from '../../domain/deployments/supervisor.ts';
import type { Authenticate } from '../authenticate.ts';
import { readBoundedBody } from './bounded-body.ts';
import { forward } from './forward.ts';
import { passThroughPath } from './pass-through-path.ts';

export interface ServeLimits {
  maxBodyBytes: number;
  maxResponseBytes: number;
  /** Body arrival, and separately the model's whole answer. */
  timeoutMs: number;
}

export interface ServeRouteDeps {
  authenticate: Authenticate;
  deployments: DeploymentService;
  limits: ServeLimits;
}

type ServeParams = { owner: string; repo: string; model: string };
const params = {
  type: 'object',
  required: ['owner', 'repo', 'model'],
  properties: { owner: { type: 'string' }, repo: { type: 'string' }, model: { type: 'string', description: 'The deployed model' } },
} as const;
const reply200 = { 200: { description: 'What the model answered, with X-Mlgit-Model-Version (and X-Mlgit-Cold-Start-Ms when it had to start)' } };

/**
 * Registers the proxy in a scope of its own: bodies are read raw (capped, timed), never parsed by
 * mlgit. Its requests are not logged one by one (they are counted and timed by the HTTP metrics);
 * what goes wrong with one is logged at warn, with its request id (README, Decisions).
 */
export async function registerServeRoutes(app: FastifyInstance, deps: ServeRouteDeps): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (request, _payload, done) => readBoundedBody(request.raw, deps.limits.maxBodyBytes, deps.limits.timeoutMs, done));
    /** `resendable`: the request may reach a second replica when the first was lost before answering. */
    const proxy = async (request: FastifyRequest<{ Params: ServeParams }>, reply: FastifyReply, upstreamPath: string, resendable: boolean) => {
      const { owner, repo, model } = request.params;
      const principal = await deps.authenticate(request);
      let lease;
      try {
        lease = await deps.deployments.lease(principal, owner, repo, model);
      } catch (error) {
        if (!(error instanceof Unavailable)) throw error;
        return reply.code(503).header('Retry-After', String(error.retryAfterSeconds)).type('application/json').send({ error: { code: 'unavailable', message: error.message } });
      }
      const another = resendable ? (lost: Lease) => deps.deployments.lease(principal, owner, repo, model, lost.replicaId) : null;
      return forward(request, reply, lease, upstreamPath, deps.limits, another);
    };
    const query = (request: FastifyRequest) => {
      const at = request.raw.url?.indexOf('?') ?? -1;
      return at >= 0 ? request.raw.url!.slice(at) : '';
    };
    // The Open Inference Protocol's calls do not change the model: sent again when a replica died under them.
    const v2 = (suffix: string) => (request: FastifyRequest<{ Params: ServeParams }>, reply: FastifyReply) =>
      proxy(request, reply, `/v2/models/${encodeURIComponent(request.params.model)}${suffix}${query(request)}`, true);

    scope.get<{ Params: ServeParams }>('/serve/:owner/:repo/v2/models/:model', { schema: { summary: 'Model metadata (Open Inference Protocol)', params, response: reply200 } }, v2(''));
    scope.get<{ Params: ServeParams }>('/serve/:owner/:repo/v2/models/:model/ready', { schema: { summary: 'Model readiness (Open Inference Protocol)', params, response: reply200 } }, v2('/ready'));
    scope.post<{ Params: ServeParams }>('/serve/:owner/:repo/v2/models/:model/infer', { schema: { summary: 'Inference (Open Inference Protocol)', params, response: reply200 } }, v2('/infer'));
    scope.route<{ Params: ServeParams }>({
      method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      url: '/serve/:owner/:repo/:model/*',
      schema: { summary: 'Pass-through to the model server\'s own API (dot segments refused)', params: { ...params, properties: { ...params.properties, '*': { type: 'string' } } }, response: reply200 },
      handler: (request, reply) => proxy(request, reply, passThroughPath(request.raw.url ?? ''), request.method === 'GET'),
    });
  }, { logLevel: 'warn' });
}
