import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import { invalid } from '../../domain/errors.ts';
import type { Repo } from '../../domain/model.ts';
import type { ObjectStore, RunLogStore } from '../../domain/ports.ts';
import type { RepoService } from '../../domain/repos.ts';
import type { RunDispatcher } from '../../domain/runs/dispatcher.ts';
import type { RunLifecycle } from '../../domain/runs/lifecycle.ts';
import { FINAL_STATUSES } from '../../domain/runs/model.ts';
import type { RunQueries } from '../../domain/runs/queries.ts';
import { type Authenticate, requirePrincipal } from '../authenticate.ts';
import { parsePage, setPageHeaders } from './pagination.ts';
import { baseUrl } from './present.ts';
import { presentRun } from './present-run.ts';
import { binary, errors, pageQueryProperties, ref, repoParams, repoParamsWith, wildcardParam } from './schemas/common.ts';
import { metricsMap } from './schemas/entities.ts';

type RepoParams = { owner: string; name: string };
type RunParams = RepoParams & { id: string };

export interface RunRouteDeps {
  config: Config;
  repos: RepoService;
  authenticate: Authenticate;
  dispatcher: RunDispatcher;
  lifecycle: RunLifecycle;
  queries: RunQueries;
  logs: RunLogStore;
  store: ObjectStore;
}

const FOLLOW_POLL_MS = 200;

const runParams = repoParamsWith({ id: { type: 'string', description: 'Run id' } });
const runWithMetrics = { allOf: [ref('Run'), { type: 'object', properties: { metrics: metricsMap } }] } as const;
const runDetail = {
  allOf: [
    ref('Run'),
    {
      type: 'object',
      properties: {
        metrics: metricsMap,
        outputs: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, type: { type: 'string' }, oid: { type: 'string' }, size: { type: 'integer' } } } },
      },
    },
  ],
} as const;
const metricComparison = {
  type: 'object',
  properties: {
    metric: { type: 'string' },
    base: { type: ['number', 'null'] },
    head: { type: ['number', 'null'] },
    delta: { type: ['number', 'null'] },
    relative: { type: ['number', 'null'] },
    goal: { type: ['string', 'null'], enum: ['maximize', 'minimize', null] },
    regressed: { type: 'boolean' },
    threshold: { type: 'string', description: 'The rule that applied, as written: `max_drop 0.01`, `max_rise 5%`' },
  },
} as const;
const compareSchema = {
  type: 'object',
  properties: {
    base: { type: 'string' },
    head: { type: 'string' },
    jobs: {
      type: 'array',
      items: { type: 'object', properties: { job: { type: 'string' }, base_run: { type: ['integer', 'null'] }, head_run: { type: 'integer' }, metrics: { type: 'array', items: metricComparison } } },
    },
  },
} as const;
const historySchema = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    ref: { type: 'string' },
    points: {
      type: 'array',
      items: {
        type: 'object',
        properties: { commit: { type: 'string' }, date: { type: 'string', format: 'date-time' }, message: { type: 'string' }, job: { type: 'string' }, run: { type: 'integer' }, value: { type: 'number' } },
      },
    },
  },
} as const;

function runId(raw: string): number {
  const id = Number(raw);
  if (!/^[0-9]{1,10}$/.test(raw) || !Number.isSafeInteger(id)) throw invalid('run id must be a positive whole number');
  return id;
}

/** Runs, their logs and outputs, and metrics across commits: the REST API users and the web page read. */
export function registerRunRoutes(app: FastifyInstance, deps: RunRouteDeps): void {
  const { repos, authenticate, queries } = deps;
  const base = (request: FastifyRequest) => baseUrl(request, deps.config.publicUrl);
  const readable = async (request: FastifyRequest<{ Params: RepoParams }>) =>
    (await repos.authorize(await authenticate(request), request.params.owner, request.params.name, 'read')).repo;
  const path = (p: RepoParams) => `${p.owner}/${p.name}`;

  app.get<{ Params: RepoParams; Querystring: { ref?: string; commit?: string; status?: string; job?: string; page?: string; per_page?: string } }>(
    '/api/v1/repos/:owner/:name/runs',
    {
      schema: {
        summary: 'Runs of a repository, newest first, paginated',
        params: repoParams,
        querystring: {
          type: 'object',
          properties: {
            ref: { type: 'string', description: 'A branch name or a full ref' },
            commit: { type: 'string', description: '4 to 40 lowercase hex digits' },
            status: { type: 'string', description: 'queued, running, success, failed, cancelled, timed_out, cached or error' },
            job: { type: 'string' },
            ...pageQueryProperties,
          },
        },
        response: { 200: { type: 'array', items: ref('Run') }, ...errors },
      },
    },
    async (request, reply) => {
      const repo = await readable(request);
      const page = parsePage(request.query);
      const { ref, commit, status, job } = request.query;
      const { runs, total } = await queries.list(repo, { ref, commit, status, job }, page.perPage, (page.page - 1) * page.perPage);
      setPageHeaders(request, reply, page, total);
      return runs.map((run) => presentRun(run, base(request), path(request.params)));
    },
  );

  app.post<{ Params: RepoParams; Body: { ref?: unknown; jobs?: unknown; params?: unknown } | undefined }>(
    '/api/v1/repos/:owner/:name/runs',
    {
      schema: {
        summary: 'Start runs of a commit by hand (write access)',
        params: repoParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ref: { type: 'string', description: 'Branch, tag or commit (default: the default branch)' },
            jobs: { type: 'array', items: { type: 'string' }, description: 'Jobs to run (default: all)' },
            params: { type: 'object', description: 'Parameter overrides' },
          },
        },
        response: { 201: { type: 'object', properties: { runs: { type: 'array', items: ref('Run') } } }, ...errors },
      },
    },
    async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      const { repo } = await repos.authorize(principal, request.params.owner, request.params.name, 'write');
      const runs = await deps.dispatcher.dispatchManual(repo, principal.user.id, request.body ?? {});
      return reply.code(201).send({ runs: runs.map((run) => presentRun(run, base(request), path(request.params))) });
    },
  );

  app.get<{ Params: RunParams }>(
    '/api/v1/repos/:owner/:name/runs/:id',
    { schema: { summary: 'One run, with its metrics and outputs', params: runParams, response: { 200: runDetail, ...errors } } },
    async (request) => {
      const repo = await readable(request);
      const detail = await queries.detail(repo, runId(request.params.id));
      return { ...presentRun(detail.run, base(request), path(request.params)), metrics: detail.metrics, outputs: detail.outputs };
    },
  );

  app.post<{ Params: RunParams }>(
    '/api/v1/repos/:owner/:name/runs/:id/cancel',
    { schema: { summary: 'Cancel a queued or running run (write access)', params: runParams, response: { 202: ref('Run'), ...errors } } },
    async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      const { repo } = await repos.authorize(principal, request.params.owner, request.params.name, 'write');
      const run = await deps.lifecycle.cancel(await queries.run(repo, runId(request.params.id)));
      return reply.code(202).send(presentRun(run, base(request), path(request.params)));
    },
  );

  app.get<{ Params: RunParams; Querystring: { follow?: string; offset?: string } }>(
    '/api/v1/repos/:owner/:name/runs/:id/logs',
    {
      schema: {
        summary: 'The log of a run (streamed; follow=1 keeps streaming until the run ends)',
        params: runParams,
        querystring: {
          type: 'object',
          properties: { follow: { type: 'string', description: '1 or true: keep the answer open and stream new lines' }, offset: { type: 'string', description: 'Start at this byte' } },
        },
        response: { 200: binary('text/plain', 'Log text (UTF-8)'), ...errors },
      },
    },
    async (request, reply) => {
      const repo = await readable(request);
      const run = await queries.run(repo, runId(request.params.id));
      const offset = request.query.offset === undefined ? 0 : Number(request.query.offset);
      if (!Number.isSafeInteger(offset) || offset < 0) throw invalid('offset must be a whole number of bytes');
      reply.header('Content-Type', 'text/plain; charset=utf-8');
      reply.header('X-Content-Type-Options', 'nosniff');
      if (request.query.follow !== '1' && request.query.follow !== 'true') {
        const stream = await deps.logs.read(run.id, offset);
        return reply.send(stream ?? '');
      }
      return follow(request, reply, deps, repo, run.id, offset);
    },
  );

  app.get<{ Params: RunParams & { '*': string } }>(
    '/api/v1/repos/:owner/:name/runs/:id/outputs/*',
    {
      schema: {
        summary: 'Download an output of a run (streamed; X-Sha256 has its digest)',
        params: repoParamsWith({ id: runParams.properties.id, ...wildcardParam }),
        response: { 200: binary('application/octet-stream', 'The stored output'), ...errors },
      },
    },
    async (request, reply) => {
      const repo = await readable(request);
      const output = await queries.output(repo, runId(request.params.id), request.params['*']);
      const fileName = output.type === 'dir' ? output.oid : request.params['*'].split('/').pop()!;
      reply.header('Content-Type', 'application/octet-stream');
      reply.header('Content-Length', String(output.size));
      reply.header('Content-Disposition', `attachment; filename="${fileName.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
      reply.header('X-Sha256', output.oid);
      return reply.send(await deps.store.get(output.oid));
    },
  );

  app.get<{ Params: RepoParams & { sha: string } }>(
    '/api/v1/repos/:owner/:name/commits/:sha/metrics',
    {
      schema: {
        summary: 'The latest run of every job on a commit, with its metrics',
        params: repoParamsWith({ sha: { type: 'string', description: 'A commit, branch or tag' } }),
        response: { 200: { type: 'object', properties: { commit: { type: 'string' }, jobs: { type: 'array', items: runWithMetrics } } }, ...errors },
      },
    },
    async (request) => {
      const repo = await readable(request);
      const result = await queries.commitMetrics(repo, request.params.sha);
      return { commit: result.commit, jobs: result.jobs.map((j) => ({ ...presentRun(j.run, base(request), path(request.params)), metrics: j.metrics })) };
    },
  );

  app.get<{ Params: RepoParams; Querystring: { base?: string; head?: string } }>(
    '/api/v1/repos/:owner/:name/metrics/compare',
    {
      schema: {
        summary: 'Metrics of two commits, job by job: base, head, delta, relative delta, goal, regressed',
        params: repoParams,
        querystring: { type: 'object', properties: { base: { type: 'string', description: 'Branch, tag or commit (required)' }, head: { type: 'string', description: 'Branch, tag or commit (required)' } } },
        response: { 200: compareSchema, ...errors },
      },
    },
    async (request) => {
      const repo = await readable(request);
      const { base: b, head } = request.query;
      if (!b || !head) throw invalid('both "base" and "head" are required (branches, tags or commits)');
      return queries.compare(repo, b, head);
    },
  );

  app.get<{ Params: RepoParams; Querystring: { key?: string; ref?: string; job?: string } }>(
    '/api/v1/repos/:owner/:name/metrics/history',
    {
      schema: {
        summary: 'One metric across the commits of a branch, oldest first (for plots)',
        params: repoParams,
        querystring: {
          type: 'object',
          properties: { key: { type: 'string', description: 'The metric (required)' }, ref: { type: 'string', description: 'Default: the default branch' }, job: { type: 'string' } },
        },
        response: { 200: historySchema, ...errors },
      },
    },
    async (request) => {
      const repo = await readable(request);
      const { key, ref, job } = request.query;
      if (!key) throw invalid('"key" is required: the metric to plot');
      return queries.history(repo, key, ref ?? repo.defaultBranch, job ?? null);
    },
  );
}

/** `?follow=1`: the log so far, then new bytes as they arrive, until the run has finished. */
async function follow(request: FastifyRequest, reply: FastifyReply, deps: RunRouteDeps, repo: Repo, id: number, start: number): Promise<FastifyReply> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff', 'X-Request-Id': request.id });
  let offset = start;
  let closed = false;
  request.raw.on('close', () => (closed = true));
  res.on('close', () => (closed = true));
  try {
    for (;;) {
      const stream = await deps.logs.read(id, offset);
      if (stream) {
        for await (const chunk of stream) {
          offset += (chunk as Buffer).length;
          if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
          if (closed) return reply;
        }
        continue;
      }
      const run = await deps.queries.run(repo, id);
      if (FINAL_STATUSES.includes(run.status) && (await deps.logs.size(id)) <= offset) break;
      if (closed) return reply;
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
    }
  } catch (err) {
    request.log.warn({ err }, 'log follow ended early');
  }
  res.end();
  return reply;
}
