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
    { schema: { body: { type: 'object', additionalProperties: false, properties: { ref: { type: 'string' }, jobs: { type: 'array', items: { type: 'string' } }, params: { type: 'object' } } } } },
    async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      const { repo } = await repos.authorize(principal, request.params.owner, request.params.name, 'write');
      const runs = await deps.dispatcher.dispatchManual(repo, principal.user.id, request.body ?? {});
      return reply.code(201).send({ runs: runs.map((run) => presentRun(run, base(request), path(request.params))) });
    },
  );

  app.get<{ Params: RunParams }>('/api/v1/repos/:owner/:name/runs/:id', async (request) => {
    const repo = await readable(request);
    const detail = await queries.detail(repo, runId(request.params.id));
    return { ...presentRun(detail.run, base(request), path(request.params)), metrics: detail.metrics, outputs: detail.outputs };
  });

  app.post<{ Params: RunParams }>('/api/v1/repos/:owner/:name/runs/:id/cancel', async (request, reply) => {
    const principal = await requirePrincipal(authenticate, request);
    const { repo } = await repos.authorize(principal, request.params.owner, request.params.name, 'write');
    const run = await deps.lifecycle.cancel(await queries.run(repo, runId(request.params.id)));
    return reply.code(202).send(presentRun(run, base(request), path(request.params)));
  });

  app.get<{ Params: RunParams; Querystring: { follow?: string; offset?: string } }>('/api/v1/repos/:owner/:name/runs/:id/logs', async (request, reply) => {
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
  });

  app.get<{ Params: RunParams & { '*': string } }>('/api/v1/repos/:owner/:name/runs/:id/outputs/*', async (request, reply) => {
    const repo = await readable(request);
    const output = await queries.output(repo, runId(request.params.id), request.params['*']);
    const fileName = output.type === 'dir' ? output.oid : request.params['*'].split('/').pop()!;
    reply.header('Content-Type', 'application/octet-stream');
    reply.header('Content-Length', String(output.size));
    reply.header('Content-Disposition', `attachment; filename="${fileName.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
    reply.header('X-Sha256', output.oid);
    return reply.send(await deps.store.get(output.oid));
  });

  app.get<{ Params: RepoParams & { sha: string } }>('/api/v1/repos/:owner/:name/commits/:sha/metrics', async (request) => {
    const repo = await readable(request);
    const result = await queries.commitMetrics(repo, request.params.sha);
    return { commit: result.commit, jobs: result.jobs.map((j) => ({ ...presentRun(j.run, base(request), path(request.params)), metrics: j.metrics })) };
  });

  app.get<{ Params: RepoParams; Querystring: { base?: string; head?: string } }>('/api/v1/repos/:owner/:name/metrics/compare', async (request) => {
    const repo = await readable(request);
    const { base: b, head } = request.query;
    if (!b || !head) throw invalid('both "base" and "head" are required (branches, tags or commits)');
    return queries.compare(repo, b, head);
  });

  app.get<{ Params: RepoParams; Querystring: { key?: string; ref?: string; job?: string } }>('/api/v1/repos/:owner/:name/metrics/history', async (request) => {
    const repo = await readable(request);
    const { key, ref, job } = request.query;
    if (!key) throw invalid('"key" is required: the metric to plot');
    return queries.history(repo, key, ref ?? repo.defaultBranch, job ?? null);
  });
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
