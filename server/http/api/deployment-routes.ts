// Deployments' REST API (issue 11, "Serving"): create one for a model alias, list them, read one
// with its state, read its log, remove it. Requests to the model itself go through
// server/http/serve/ (the /serve/... proxy).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import type { DeploymentService, DeploymentView } from '../../domain/deployments/service.ts';
import { invalid } from '../../domain/errors.ts';
import { type Authenticate, requirePrincipal } from '../authenticate.ts';
import { baseUrl } from './present.ts';
import { binary, errors, repoParams, repoParamsWith } from './schemas/common.ts';

export interface DeploymentRouteDeps {
  config: Config;
  authenticate: Authenticate;
  deployments: DeploymentService;
}

type RepoParams = { owner: string; name: string };
type ModelParams = RepoParams & { model: string };

const modelParams = repoParamsWith({ model: { type: 'string', description: 'The deployed model (models: in mlproject.yaml)' } });
const deploymentSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    model: { type: 'string' },
    alias: { type: 'string' },
    state: { type: 'string', enum: ['starting', 'ready', 'failing', 'stopped'] },
    version: { type: ['integer', 'null'] },
    switching_to: { type: ['integer', 'null'] },
    message: { type: ['string', 'null'] },
    restarts: { type: 'integer' },
    replicas: { type: 'integer' },
    replica_states: {
      type: 'array',
      description: 'Each model server: the serving version\'s, then those of a version starting beside them',
      items: {
        type: 'object',
        properties: {
          index: { type: 'integer' },
          version: { type: 'integer' },
          state: { type: 'string', enum: ['starting', 'ready', 'failing'] },
          restarts: { type: 'integer' },
          message: { type: ['string', 'null'] },
        },
      },
    },
    source: { type: 'string', enum: ['api', 'manifest'] },
    manifest_entry: { type: ['string', 'null'] },
    public: { type: 'boolean' },
    url: { type: 'string' },
  },
} as const;
/** Described, not enforced here: the domain checks the body and names every problem at once. */
const createBody = {
  description:
    'model (required); alias (default production); command (run in the image with the repository at the version\'s commit as cwd, ' +
    'listening on $MLGIT_SERVE_SOCKET or on port; the model file is $MLP_MODEL_PATH); port (the TCP port the model server listens on in its sandbox, ' +
    'relayed by mlgit; without a command the image\'s own entrypoint runs, docker runtime only); command or port is required; ' +
    'image (default: mlproject.yaml\'s at that commit); ' +
    'health_path (default /v2/health/ready); replicas (default 1, at most MLGIT_DEPLOY_MAX_REPLICAS); resources {cpu, memory: "1Gi"}; env {NAME: value}; ' +
    'public (anonymous callers may use it; public repositories only)',
} as const;

/** Registers the deployments API. */
export function registerDeploymentRoutes(app: FastifyInstance, deps: DeploymentRouteDeps): void {
  const { authenticate, deployments } = deps;
  const present = (request: FastifyRequest<{ Params: RepoParams }>, view: DeploymentView) => {
    const { deployment: d, status: s } = view;
    const base = baseUrl(request, deps.config.publicUrl);
    const repoPath = `${request.params.owner}/${request.params.name}`;
    return {
      model: d.model,
      alias: d.alias,
      command: d.command,
      image: d.image,
      port: d.port,
      health_path: d.healthPath,
      replicas: d.replicas,
      resources: { cpu: d.cpus, memory_bytes: d.memoryBytes },
      env: d.env,
      public: d.public,
      state: s.state,
      version: s.version,
      switching_to: s.switchingTo,
      message: s.message,
      restarts: s.restarts,
      replica_states: s.replicas,
      // A deployment the manifest declares changes only with it (README, Serving).
      source: d.manifestEntry === null ? 'api' : 'manifest',
      manifest_entry: d.manifestEntry,
      created_at: d.createdAt.toISOString(),
      url: `${base}/serve/${repoPath}/v2/models/${d.model}`,
      logs_url: `${base}/api/v1/repos/${repoPath}/deployments/${d.model}/logs`,
    };
  };

  app.post<{ Params: RepoParams; Body: unknown }>(
    '/api/v1/repos/:owner/:name/deployments',
    { schema: { summary: 'Deploy a model alias (write access); 202: it starts in the background, watch state', params: repoParams, body: createBody, response: { 202: deploymentSchema, ...errors } } },
    async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      const view = await deployments.create(principal, request.params.owner, request.params.name, request.body);
      return reply.code(202).send(present(request, view));
    },
  );

  app.get<{ Params: RepoParams }>(
    '/api/v1/repos/:owner/:name/deployments',
    { schema: { summary: 'Deployments of a repository with their state', params: repoParams, response: { 200: { type: 'array', items: deploymentSchema }, ...errors } } },
    async (request) => (await deployments.list(await authenticate(request), request.params.owner, request.params.name)).map((view) => present(request, view)),
  );

  app.get<{ Params: ModelParams }>(
    '/api/v1/repos/:owner/:name/deployments/:model',
    { schema: { summary: 'One deployment: state (starting, ready, failing, stopped), serving version, restarts', params: modelParams, response: { 200: deploymentSchema, ...errors } } },
    async (request) => present(request, await deployments.get(await authenticate(request), request.params.owner, request.params.name, request.params.model)),
  );

  app.delete<{ Params: ModelParams }>(
    '/api/v1/repos/:owner/:name/deployments/:model',
    { schema: { summary: 'Stop and remove a deployment (write access)', params: modelParams, response: { 200: deploymentSchema, ...errors } } },
    async (request) => {
      const principal = await requirePrincipal(authenticate, request);
      return present(request, await deployments.remove(principal, request.params.owner, request.params.name, request.params.model));
    },
  );

  app.get<{ Params: ModelParams; Querystring: { offset?: string } }>(
    '/api/v1/repos/:owner/:name/deployments/:model/logs',
    {
      schema: {
        summary: 'The deployment\'s log: the model server\'s output and mlgit\'s lines about starts, crashes and switches',
        params: modelParams,
        querystring: { type: 'object', properties: { offset: { type: 'string', description: 'Start at this byte' } } },
        response: { 200: binary('text/plain', 'Log text (UTF-8)'), ...errors },
      },
    },
    async (request, reply) => {
      const offset = request.query.offset === undefined ? 0 : Number(request.query.offset);
      if (!Number.isSafeInteger(offset) || offset < 0) throw invalid('offset must be a whole number of bytes');
      const log = await deployments.logs(await authenticate(request), request.params.owner, request.params.name, request.params.model, offset);
      reply.header('Content-Type', 'text/plain; charset=utf-8');
      reply.header('X-Content-Type-Options', 'nosniff');
      reply.header('X-Log-Size', String(log.size));
      return reply.send(log.content ?? '');
    },
  );
}
