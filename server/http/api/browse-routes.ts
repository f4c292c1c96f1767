import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid, notFound } from '../../domain/errors.ts';
import type { GitBackend } from '../../domain/ports.ts';
import type { RepoService } from '../../domain/repos.ts';
import type { Authenticate } from '../authenticate.ts';
import { binary, errors, repoParams, repoParamsWith, wildcardParam } from './schemas/common.ts';

type RepoParams = { owner: string; name: string };

const person = { type: 'object', properties: { name: { type: 'string' }, email: { type: 'string' }, date: { type: 'string', format: 'date-time' } } } as const;
const commitSchema = {
  type: 'object',
  properties: { sha: { type: 'string' }, parents: { type: 'array', items: { type: 'string' } }, author: person, committer: person, message: { type: 'string' } },
} as const;
const treeEntrySchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    path: { type: 'string' },
    type: { type: 'string', enum: ['blob', 'tree', 'commit'] },
    mode: { type: 'string' },
    sha: { type: 'string' },
    size: { type: ['integer', 'null'], description: 'bytes of a blob; null for trees and submodules' },
  },
} as const;
const refParam = { ref: { type: 'string', description: 'A branch, tag or commit' } } as const;
const treeResponse = { 200: { type: 'array', items: treeEntrySchema }, ...errors } as const;

/** Tree paths are git paths: no NUL, no empty, "." or ".." segments (the web UI's file pages check them the same way). */
export function cleanPath(raw: string | undefined): string {
  const trimmed = (raw ?? '').replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  if (trimmed.includes('\0') || trimmed.length > 4096 || trimmed.split('/').some((s) => s === '' || s === '.' || s === '..')) throw invalid('invalid path');
  return trimmed;
}

/** Read-only views of repository content for API users and the web UI. */
export function registerBrowseRoutes(app: FastifyInstance, deps: { repos: RepoService; git: GitBackend; authenticate: Authenticate }): void {
  const { repos, git, authenticate } = deps;

  async function readable(request: FastifyRequest<{ Params: RepoParams }>) {
    return (await repos.authorize(await authenticate(request), request.params.owner, request.params.name, 'read')).repo;
  }

  async function commitOf(repoId: number, ref: string): Promise<string> {
    const sha = await git.resolveCommit(repoId, ref);
    if (!sha) throw notFound(`ref "${ref}"`);
    return sha;
  }

  app.get<{ Params: RepoParams }>(
    '/api/v1/repos/:owner/:name/refs',
    {
      schema: {
        summary: 'Branches and tags',
        params: repoParams,
        response: { 200: { type: 'array', items: { type: 'object', properties: { ref: { type: 'string' }, sha: { type: 'string' }, type: { type: 'string' } } } }, ...errors },
      },
    },
    async (request) => {
      const repo = await readable(request);
      return (await git.refs(repo.id)).map((r) => ({ ref: r.name, sha: r.sha, type: r.type }));
    },
  );

  app.get<{ Params: RepoParams; Querystring: { ref?: string; limit?: string } }>(
    '/api/v1/repos/:owner/:name/commits',
    {
      schema: {
        summary: 'Commit history from a ref, newest first',
        params: repoParams,
        querystring: { type: 'object', properties: { ...refParam, limit: { type: 'string', description: '1 to 500 (default 30)' } } },
        response: { 200: { type: 'array', items: commitSchema }, ...errors },
      },
    },
    async (request) => {
      const repo = await readable(request);
      const limit = request.query.limit === undefined ? 30 : Number(request.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw invalid('limit must be between 1 and 500');
      const sha = await commitOf(repo.id, request.query.ref || repo.defaultBranch);
      return git.commits(repo.id, sha, limit);
    },
  );

  const tree = async (request: FastifyRequest<{ Params: RepoParams & { ref: string; '*'?: string } }>) => {
    const repo = await readable(request);
    const path = cleanPath(request.params['*']);
    const entries = await git.tree(repo.id, await commitOf(repo.id, request.params.ref), path);
    if (!entries) throw notFound(`path "${path}"`);
    return entries;
  };
  app.get('/api/v1/repos/:owner/:name/tree/:ref', { schema: { summary: 'Entries of the root tree at a ref', params: repoParamsWith(refParam), response: treeResponse } }, tree);
  app.get('/api/v1/repos/:owner/:name/tree/:ref/*', { schema: { summary: 'Entries of a directory at a ref', params: repoParamsWith({ ...refParam, ...wildcardParam }), response: treeResponse } }, tree);

  app.get<{ Params: RepoParams & { ref: string; '*': string } }>(
    '/api/v1/repos/:owner/:name/blob/:ref/*',
    {
      schema: {
        summary: 'The raw bytes of a file at a ref (streamed; ETag is the blob id)',
        params: repoParamsWith({ ...refParam, ...wildcardParam }),
        response: { 200: binary('application/octet-stream', 'The file, as stored in git (LFS pointers are not resolved)'), ...errors },
      },
    },
    async (request, reply) => {
      const repo = await readable(request);
      const path = cleanPath(request.params['*']);
      const blob = await git.blob(repo.id, await commitOf(repo.id, request.params.ref), path);
      if (!blob) throw notFound(`file "${path}"`);
      // Served as bytes, never as something a browser would render.
      return reply
        .header('Content-Type', 'application/octet-stream')
        .header('X-Content-Type-Options', 'nosniff')
        .header('Content-Length', String(blob.size))
        .header('ETag', `"${blob.sha}"`)
        .send(blob.content);
    },
  );
}
