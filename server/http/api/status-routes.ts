import type { FastifyInstance } from 'fastify';
import type { RepoService } from '../../domain/repos.ts';
import { type CommitStatus, MAX_METRICS, STATES, type StatusService } from '../../domain/statuses.ts';
import { type Authenticate, requirePrincipal } from '../authenticate.ts';
import { sendWithEtag } from './etag.ts';
import { parsePage, setPageHeaders } from './pagination.ts';
import { errors, notModified, pageQuery, repoParamsWith } from './schemas/common.ts';

type RepoParams = { owner: string; name: string };


const statusBody = {
  type: 'object',
  required: ['state'],
  additionalProperties: false,
  properties: {
    state: { type: 'string', enum: [...STATES] },
    context: { type: 'string' },
    description: { type: 'string' },
    target_url: { type: 'string' },
    // Names and finiteness are checked by the domain (1e400 is valid JSON that parses to Infinity).
    metrics: { type: 'object', maxProperties: MAX_METRICS, additionalProperties: { type: 'number' } },
  },
} as const;

const statusSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    sha: { type: 'string' },
    state: { type: 'string', enum: [...STATES] },
    context: { type: 'string' },
    description: { type: ['string', 'null'] },
    target_url: { type: ['string', 'null'] },
    metrics: { type: ['object', 'null'], additionalProperties: { type: 'number' } },
    creator: { type: ['string', 'null'] },
    created_at: { type: 'string', format: 'date-time' },
  },
} as const;

const combinedSchema = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: [...STATES] },
    sha: { type: 'string' },
    total_count: { type: 'integer' },
    statuses: { type: 'array', items: statusSchema },
  },
} as const;

export const statusSchemas = { statusBody, statusSchema, combinedSchema };

function presentStatus(s: CommitStatus) {
  return {
    id: s.id,
    sha: s.sha,
    state: s.state,
    context: s.context,
    description: s.description,
    target_url: s.targetUrl,
    metrics: s.metrics,
    creator: s.creator,
    created_at: s.createdAt.toISOString(),
  };
}

/** GitHub-style commit statuses: CI posts with write access, anyone who can read the repo reads. */
export function registerStatusRoutes(app: FastifyInstance, deps: { statuses: StatusService; repos: RepoService; authenticate: Authenticate }): void {
  const { statuses, repos, authenticate } = deps;

  app.post<{ Params: RepoParams & { sha: string }; Body: { state: CommitStatus['state']; context?: string; description?: string; target_url?: string; metrics?: Record<string, number> } }>(
    '/api/v1/repos/:owner/:name/statuses/:sha',
    {
      schema: {
        params: repoParamsWith({ sha: { type: 'string', pattern: '^[0-9a-f]{40}$' } }),
        body: statusBody,
        response: { 201: statusSchema, ...errors },
      },
    },
    async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      const { repo } = await repos.authorize(principal, request.params.owner, request.params.name, 'write');
      const { target_url, ...rest } = request.body;
      const created = await statuses.set(repo.id, request.params.sha, { ...rest, context: rest.context ?? 'default', targetUrl: target_url }, principal.user.id);
      return reply.code(201).send(presentStatus(created));
    },
  );

  const refParams = repoParamsWith({ ref: { type: 'string', minLength: 1, maxLength: 256 } });

  app.get<{ Params: RepoParams & { ref: string }; Querystring: { page?: string; per_page?: string } }>(
    '/api/v1/repos/:owner/:name/commits/:ref/statuses',
    { schema: { params: refParams, querystring: pageQuery, response: { 200: { type: 'array', items: statusSchema }, 304: notModified, ...errors } } },
    async (request, reply) => {
      const page = parsePage(request.query);
      const { repo } = await repos.authorize(await authenticate(request), request.params.owner, request.params.name, 'read');
      const sha = await statuses.commitOf(repo.id, request.params.ref);
      const { statuses: found, total } = await statuses.list(repo.id, sha, page);
      setPageHeaders(request, reply, page, total);
      return sendWithEtag(request, reply, found.map(presentStatus));
    },
  );

  app.get<{ Params: RepoParams & { ref: string } }>(
    '/api/v1/repos/:owner/:name/commits/:ref/status',
    { schema: { params: refParams, response: { 200: combinedSchema, 304: notModified, ...errors } } },
    async (request, reply) => {
      const { repo } = await repos.authorize(await authenticate(request), request.params.owner, request.params.name, 'read');
      const sha = await statuses.commitOf(repo.id, request.params.ref);
      const combined = await statuses.combined(repo.id, sha);
      return sendWithEtag(request, reply, { state: combined.state, sha, total_count: combined.statuses.length, statuses: combined.statuses.map(presentStatus) });
    },
  );
}
