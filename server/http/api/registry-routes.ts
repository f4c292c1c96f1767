// The model registry's REST API (issue 11, "Registry"): versions, aliases with compare-and-set
// moves and promotion gates, their history, approvals, lineage, and downloads by version or alias
// streamed from the object store with Range and ETag = the file's sha256.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import type { RepoService } from '../../domain/repos.ts';
import type { ObjectStore } from '../../domain/ports.ts';
import { GatesUnmet, type MoveRequest } from '../../domain/registry/aliases.ts';
import type { ModelAlias, ModelVersion } from '../../domain/registry/model.ts';
import { versionNumber } from '../../domain/registry/names.ts';
import type { ModelRegistry } from '../../domain/registry/registry.ts';
import { parseRange } from '../../../lfs/range.ts';
import { type Authenticate, requirePrincipal } from '../authenticate.ts';
import { sendByteRange } from '../byte-range-reply.ts';
import { parsePage, setPageHeaders } from './pagination.ts';
import { baseUrl } from './present.ts';
import { binary, errors, pageQueryProperties, repoParams, repoParamsWith } from './schemas/common.ts';

export interface RegistryRouteDeps {
  config: Config;
  repos: RepoService;
  authenticate: Authenticate;
  registry: ModelRegistry;
  store: ObjectStore;
  /** Rewrites the commit's git note so it names a version registered by hand. */
  refreshNote(repoId: number, commitSha: string): Promise<void>;
}

type RepoParams = { owner: string; name: string };
type ModelParams = RepoParams & { model: string };
type VersionParams = ModelParams & { version: string };
type AliasParams = ModelParams & { alias: string };

const modelParam = { model: { type: 'string', description: 'Model name (models: in mlproject.yaml)' } };
const versionParam = { version: { type: 'string', description: 'Version number (3 or v3)' } };
const aliasParam = { alias: { type: 'string', description: 'Alias such as production; latest is the newest version' } };
const modelParams = repoParamsWith(modelParam);
const versionParams = repoParamsWith({ ...modelParam, ...versionParam });
const aliasParams = repoParamsWith({ ...modelParam, ...aliasParam });
const open = { type: 'object', additionalProperties: true } as const;
const versionSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    model: { type: 'string' },
    version: { type: 'integer' },
    run_id: { type: ['integer', 'null'] },
    commit: { type: 'string' },
    sha256: { type: 'string' },
    size: { type: 'integer' },
    format: { type: 'string' },
    download_url: { type: 'string' },
    unsafe_to_load: { type: 'boolean' },
  },
} as const;
/** A 422 of an alias move: the Error shape, plus every unmet gate when gates refused it. */
const gatesUnmetSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, alias: { type: 'string' }, version: { type: 'integer' }, unmet: { type: 'array', items: { type: 'string' } } },
    },
  },
} as const;
const aliasSchema = { type: 'object', properties: { alias: { type: 'string' }, version: { type: 'integer' }, updated_by: { type: ['string', 'null'] }, updated_at: { type: 'string', format: 'date-time' } } } as const;

/** Registers the registry's routes on the app. */
export function registerRegistryRoutes(app: FastifyInstance, deps: RegistryRouteDeps): void {
  const { repos, authenticate, registry } = deps;
  const readable = async (request: FastifyRequest<{ Params: RepoParams }>) =>
    (await repos.authorize(await authenticate(request), request.params.owner, request.params.name, 'read')).repo;
  const writable = async (request: FastifyRequest<{ Params: RepoParams }>) => {
    const principal = await requirePrincipal(authenticate, request);
    return { principal, ...(await repos.authorize(principal, request.params.owner, request.params.name, 'write')) };
  };
  const modelUrl = (request: FastifyRequest<{ Params: ModelParams }>) =>
    `${baseUrl(request, deps.config.publicUrl)}/api/v1/repos/${request.params.owner}/${request.params.name}/models/${request.params.model}`;
  const present = (request: FastifyRequest<{ Params: ModelParams }>, v: ModelVersion) => presentVersion(v, modelUrl(request));
  const presentAlias = (a: ModelAlias) => ({ alias: a.alias, version: a.version, updated_by: a.updatedBy, updated_at: a.updatedAt.toISOString() });

  app.get<{ Params: RepoParams }>(
    '/api/v1/repos/:owner/:name/models',
    { schema: { summary: 'Models of a repository with their newest version', params: repoParams, response: { 200: { type: 'array', items: open }, ...errors } } },
    async (request) => registry.versions.models(await readable(request)),
  );

  app.get<{ Params: ModelParams; Querystring: { page?: string; per_page?: string } }>(
    '/api/v1/repos/:owner/:name/models/:model/versions',
    { schema: { summary: 'Versions of a model, newest first, paginated', params: modelParams, querystring: { type: 'object', properties: pageQueryProperties }, response: { 200: { type: 'array', items: versionSchema }, ...errors } } },
    async (request, reply) => {
      const repo = await readable(request);
      const page = parsePage(request.query);
      const { versions, total } = await registry.versions.list(repo, request.params.model, page.perPage, (page.page - 1) * page.perPage);
      setPageHeaders(request, reply, page, total);
      return versions.map((v) => present(request, v));
    },
  );

  app.post<{ Params: ModelParams; Body: { run_id?: unknown } | undefined }>(
    '/api/v1/repos/:owner/:name/models/:model/versions',
    {
      schema: {
        summary: 'Register a version from a successful run (write access); 200 with the existing version when the run was registered already',
        params: modelParams,
        body: { type: 'object', additionalProperties: false, required: ['run_id'], properties: { run_id: { type: 'integer', minimum: 1 } } },
        response: { 200: versionSchema, 201: versionSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { repo, principal } = await writable(request);
      const { version, created } = await registry.versions.registerManual(repo, request.params.model, request.body?.run_id, principal.user.id);
      if (created) await deps.refreshNote(repo.id, version.commitSha).catch((err: unknown) => request.log.warn({ err }, 'could not write the git note'));
      return reply.code(created ? 201 : 200).send(present(request, version));
    },
  );

  app.get<{ Params: VersionParams }>(
    '/api/v1/repos/:owner/:name/models/:model/versions/:version',
    { schema: { summary: 'One version: run, commit, params, metrics, datasets, file', params: versionParams, response: { 200: versionSchema, ...errors } } },
    async (request) => present(request, await registry.versions.get(await readable(request), request.params.model, versionNumber(request.params.version))),
  );

  app.get<{ Params: VersionParams }>(
    '/api/v1/repos/:owner/:name/models/:model/versions/:version/lineage',
    { schema: { summary: 'Where a version came from: run, commit, params, datasets, metrics and the change against the previous version', params: versionParams, response: { 200: open, ...errors } } },
    async (request) => {
      const lineage = await registry.versions.lineage(await readable(request), request.params.model, versionNumber(request.params.version));
      return { ...lineage, version: present(request, lineage.version) };
    },
  );

  app.get<{ Params: VersionParams }>(
    '/api/v1/repos/:owner/:name/models/:model/versions/:version/download',
    { schema: { summary: 'Download a version (streamed; Range; ETag is its sha256)', params: versionParams, response: { 200: binary('application/octet-stream', 'The model file'), ...errors } } },
    async (request, reply) => sendModel(request, reply, deps, await registry.versions.get(await readable(request), request.params.model, versionNumber(request.params.version))),
  );

  app.post<{ Params: VersionParams; Body: { alias?: string } | undefined }>(
    '/api/v1/repos/:owner/:name/models/:model/versions/:version/approvals',
    {
      schema: {
        summary: 'Approve a version for an alias (write access); gates with approvers: n count distinct approvers',
        params: versionParams,
        body: { type: 'object', additionalProperties: false, required: ['alias'], properties: { alias: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { approvers: { type: 'array', items: { type: 'string' } } } }, ...errors },
      },
    },
    async (request) => {
      const { repo, principal } = await writable(request);
      return { approvers: await registry.aliases.approve(repo, request.params.model, versionNumber(request.params.version), request.body?.alias ?? '', principal) };
    },
  );

  app.get<{ Params: ModelParams }>(
    '/api/v1/repos/:owner/:name/models/:model/aliases',
    { schema: { summary: 'Aliases of a model, with the implicit latest', params: modelParams, response: { 200: { type: 'array', items: aliasSchema }, ...errors } } },
    async (request) => (await registry.aliases.list(await readable(request), request.params.model)).map(presentAlias),
  );

  app.get<{ Params: AliasParams }>(
    '/api/v1/repos/:owner/:name/models/:model/aliases/:alias',
    { schema: { summary: 'The version an alias points at', params: aliasParams, response: { 200: versionSchema, ...errors } } },
    async (request) => {
      const version = await registry.versions.byAlias(await readable(request), request.params.model, request.params.alias);
      return { ...present(request, version), alias: request.params.alias };
    },
  );

  app.put<{ Params: AliasParams; Body: MoveRequest | undefined }>(
    '/api/v1/repos/:owner/:name/models/:model/aliases/:alias',
    {
      schema: {
        summary: 'Move an alias by compare-and-set (write access; protected aliases: admin). 409 when expected_version is stale, 422 listing unmet promotion gates',
        params: aliasParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['version', 'expected_version'],
          properties: {
            version: { type: 'integer', minimum: 1 },
            expected_version: { type: ['integer', 'null'], minimum: 1, description: 'The version the alias points at now; null when it does not exist yet' },
            reason: { type: 'string', maxLength: 1000 },
            override: { type: 'boolean', description: 'Repository admins: move although gates are unmet (needs a reason; audited)' },
          },
        },
        response: { 200: open, 422: gatesUnmetSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { repo, principal, level } = await writable(request);
      try {
        return await registry.aliases.move(repo, request.params.model, request.params.alias, request.body ?? {}, { principal, level, address: request.ip });
      } catch (err) {
        if (!(err instanceof GatesUnmet)) throw err;
        return reply.code(422).send({ error: { code: 'gates_unmet', message: err.message, alias: err.alias, version: err.version, unmet: err.unmet } });
      }
    },
  );

  app.get<{ Params: AliasParams; Querystring: { page?: string; per_page?: string } }>(
    '/api/v1/repos/:owner/:name/models/:model/aliases/:alias/history',
    { schema: { summary: 'Every move of an alias, newest first: who, when, from, to, reason, overridden gates', params: aliasParams, querystring: { type: 'object', properties: pageQueryProperties }, response: { 200: { type: 'array', items: open }, ...errors } } },
    async (request, reply) => {
      const repo = await readable(request);
      const page = parsePage(request.query);
      const { entries, total } = await registry.aliases.history(repo, request.params.model, request.params.alias, page.perPage, (page.page - 1) * page.perPage);
      setPageHeaders(request, reply, page, total);
      return entries.map((e) => ({ from_version: e.fromVersion, to_version: e.toVersion, actor: e.actor, reason: e.reason, overridden: e.overridden, created_at: e.createdAt.toISOString() }));
    },
  );

  app.get<{ Params: AliasParams }>(
    '/api/v1/repos/:owner/:name/models/:model/aliases/:alias/download',
    { schema: { summary: 'Download the version an alias points at (streamed; Range; ETag is its sha256; X-Model-Version names it)', params: aliasParams, response: { 200: binary('application/octet-stream', 'The model file'), ...errors } } },
    async (request, reply) => sendModel(request, reply, deps, await registry.versions.byAlias(await readable(request), request.params.model, request.params.alias)),
  );
}

function presentVersion(v: ModelVersion, modelUrl: string) {
  return {
    model: v.model,
    version: v.version,
    run_id: v.runId,
    job: v.job,
    commit: v.commitSha,
    path: v.path,
    format: v.format,
    sha256: v.oid,
    size: v.size,
    params: v.params,
    metrics: v.metrics,
    datasets: v.datasets,
    created_at: v.createdAt.toISOString(),
    ref: `refs/models/${v.model}/v${v.version}`,
    download_url: `${modelUrl}/versions/${v.version}/download`,
    // Pickles run code when loaded: said next to the file wherever it is shown.
    unsafe_to_load: v.inspection?.kind === 'pickle',
    inspection: v.inspection,
  };
}

/** The file from the object store: whole, or one byte range; the ETag is its sha256, so it never changes for a version. */
async function sendModel(request: FastifyRequest, reply: FastifyReply, deps: RegistryRouteDeps, version: ModelVersion) {
  const etag = `"${version.oid}"`;
  const fileName = `${version.model}-v${version.version}-${version.path.split('/').pop() ?? 'model'}`.replace(/[^A-Za-z0-9._-]/g, '_');
  reply
    .header('ETag', etag)
    .header('Accept-Ranges', 'bytes')
    .header('X-Model-Version', String(version.version))
    .header('X-Sha256', version.oid)
    .header('Content-Type', 'application/octet-stream')
    .header('X-Content-Type-Options', 'nosniff')
    .header('Content-Disposition', `attachment; filename="${fileName}"`);
  if (version.inspection?.kind === 'pickle') reply.header('X-Model-Warning', version.inspection.warning);
  const given = request.headers['if-none-match'];
  if (given && given.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*')) return reply.code(304).send();
  // If-Range with another validator asks for the whole file (it changed since the part was fetched).
  const ifRange = request.headers['if-range'];
  const range = ifRange === undefined || ifRange === etag ? parseRange(request.headers.range, version.size) : null;
  return sendByteRange(request, reply, version.size, range, (part) => deps.store.get(version.oid, part));
}
