// Git LFS server API (git-lfs docs/api: batch.md, basic-transfers.md, locking.md) at
// <repo>.git/info/lfs. Thin: parse, authenticate, call the domain, stream.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../server/config.ts';
import { DomainError, notFound } from '../server/domain/errors.ts';
import type { BatchRequest, LfsService } from '../server/domain/lfs.ts';
import { LockExists, type LockService } from '../server/domain/lfs-locks.ts';
import { repoNameFromUrl } from '../server/domain/names.ts';
import type { Authenticate } from '../server/http/authenticate.ts';
import { REALM, settleUnreadBody, STATUS } from '../server/http/errors.ts';
import { baseUrl } from '../server/http/api/present.ts';
import { sendByteRange } from '../server/http/byte-range-reply.ts';
import { parseRange } from './range.ts';

const LFS_JSON = 'application/vnd.git-lfs+json';
const DOCS = 'https://github.com/git-lfs/git-lfs/tree/main/docs/api';


type RepoParams = { owner: string; repo: string };

export interface LfsDeps {
  config: Config;
  lfs: LfsService;
  locks: LockService;
  authenticate: Authenticate;
}

function repoNames(params: RepoParams): { owner: string; name: string } {
  const owner = repoNameFromUrl(params.owner);
  const name = repoNameFromUrl(params.repo);
  if (!owner || !name || owner !== params.owner) throw notFound('repository');
  return { owner, name };
}

/** The action token the batch response put into the transfer's Authorization header (or, for Hugging Face clients, its URL). */
function actionToken(request: FastifyRequest): string {
  const header = request.headers.authorization ?? '';
  if (header.startsWith('RemoteAuth ')) return header.slice('RemoteAuth '.length);
  const query = (request.query as { action_token?: unknown } | undefined)?.action_token;
  return typeof query === 'string' ? query : '';
}

/**
 * Hugging Face clients (huggingface_hub, @huggingface/hub: the ones that offer their own
 * "multipart" transfer) PUT to an upload's href alone, without its headers, as to the Hub's
 * presigned URLs. Their uploads go through mlgit (a presigned S3 PUT needs its checksum header)
 * with the action token in the URL. That token only lets its holder send the bytes of that one
 * oid to that one repository, which mlgit hashes: a log line holding it gives nothing away.
 */
function isHubClient(body: BatchRequest): boolean {
  return Array.isArray(body.transfers) && body.transfers.includes('multipart');
}

function tokensInUploadUrls(result: Awaited<ReturnType<LfsService['batch']>>) {
  for (const object of result.objects) {
    const upload = object.actions?.upload;
    const token = upload?.header.Authorization?.replace(/^RemoteAuth /, '');
    if (upload && token) upload.href = `${upload.href}?action_token=${encodeURIComponent(token)}`;
  }
  return result;
}

export async function registerLfsRoutes(app: FastifyInstance, deps: LfsDeps): Promise<void> {
  await app.register(async (lfs) => {
    lfs.addContentTypeParser([LFS_JSON, 'application/json'], { parseAs: 'string', bodyLimit: 10 * 1024 * 1024 }, (_req, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch {
        done(new DomainError('invalid', 'request body is not valid JSON'));
      }
    });
    // Object bytes stay a stream all the way into the store.
    lfs.addContentTypeParser('*', (_req, _payload, done) => done(null));

    // LFS clients show `message`; errors keep the LFS media type (batch.md "Response Errors").
    lfs.setErrorHandler(async (err: Error & { statusCode?: number }, request, reply) => {
      if (err instanceof LockExists) {
        return reply.code(409).type(LFS_JSON).send({ lock: err.lock, message: err.message, request_id: request.id, documentation_url: DOCS });
      }
      let status = err instanceof DomainError ? STATUS[err.code] : (err.statusCode ?? 500);
      if (status < 400 || status > 599) status = 500;
      // A full disk is the store's condition, not a bug: LFS clients understand 507.
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') status = 507;
      if (status === 401) reply.header('LFS-Authenticate', REALM).header('WWW-Authenticate', REALM);
      if (err instanceof DomainError && err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(err.retryAfterSeconds));
      if (status >= 500) request.log.error({ err }, 'lfs request failed');
      await settleUnreadBody(reply);
      // The domain's own 5xx (the object store unreachable) say what to do; other 5xx messages stay hidden.
      const message = status === 507 ? 'the server is out of storage space' : status >= 500 && !(err instanceof DomainError) ? `internal error (request id ${request.id})` : err.message;
      return reply.code(status).type(LFS_JSON).send({ message, request_id: request.id, documentation_url: DOCS });
    });

    const requireLfsJson = (request: FastifyRequest) => {
      const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== LFS_JSON && type !== 'application/json') throw new DomainError('unsupported_media_type', `expected Content-Type ${LFS_JSON}`);
    };

    const prefix = '/:owner/:repo/info/lfs';

    lfs.post<{ Params: RepoParams; Body: BatchRequest }>(`${prefix}/objects/batch`, async (request, reply) => {
      requireLfsJson(request);
      const { owner, name } = repoNames(request.params);
      if (typeof request.body !== 'object' || request.body === null) throw new DomainError('invalid', 'request body must be a JSON object');
      const base = baseUrl(request, deps.config.publicUrl);
      const hubClient = isHubClient(request.body);
      const result = await deps.lfs.batch(
        await deps.authenticate(request),
        owner,
        name,
        request.body,
        (repo) => {
          const root = `${base}/${repo.owner}/${repo.name}.git/info/lfs`;
          return { object: (oid) => `${root}/objects/${oid}`, verify: `${root}/verify` };
        },
        { throughServer: hubClient },
      );
      return reply.type(LFS_JSON).send(hubClient ? tokensInUploadUrls(result) : result);
    });

    // Uploads are bytes whatever Content-Type the client sends: no parser may buffer or consume
    // them (text/plain and JSON parsers would, and then the object looks empty or too large).
    await lfs.register(async (transfer) => {
      transfer.removeAllContentTypeParsers();
      transfer.addContentTypeParser('*', (_req, _payload, done) => done(null));
      transfer.put<{ Params: RepoParams & { oid: string } }>(`${prefix}/objects/:oid`, async (request, reply) => {
        const length = request.headers['content-length'];
        await deps.lfs.upload(repoNames(request.params), request.params.oid, actionToken(request), request.raw, length === undefined ? null : Number(length));
        return reply.code(200).type(LFS_JSON).send({});
      });
    });

    lfs.post<{ Params: RepoParams; Body: { oid?: unknown; size?: unknown } }>(`${prefix}/verify`, async (request, reply) => {
      requireLfsJson(request);
      const repo = await deps.lfs.repoByName(repoNames(request.params));
      await deps.lfs.verify(repo, request.body?.oid, request.body?.size, actionToken(request));
      return reply.code(200).type(LFS_JSON).send({});
    });

    lfs.get<{ Params: RepoParams & { oid: string } }>(`${prefix}/objects/:oid`, async (request, reply) => sendObject(request, reply, deps));

    lfs.post<{ Params: RepoParams; Body: { path?: unknown; ref?: { name?: unknown } } }>(`${prefix}/locks`, async (request, reply) => {
      requireLfsJson(request);
      const { owner, name } = repoNames(request.params);
      const lock = await deps.locks.create(await deps.authenticate(request), owner, name, request.body ?? {});
      return reply.code(201).type(LFS_JSON).send({ lock });
    });

    lfs.get<{ Params: RepoParams; Querystring: { path?: string; id?: string; cursor?: string; limit?: string } }>(`${prefix}/locks`, async (request, reply) => {
      const { owner, name } = repoNames(request.params);
      return reply.type(LFS_JSON).send(await deps.locks.list(await deps.authenticate(request), owner, name, request.query));
    });

    lfs.post<{ Params: RepoParams; Body: { cursor?: unknown; limit?: unknown } }>(`${prefix}/locks/verify`, async (request, reply) => {
      requireLfsJson(request);
      const { owner, name } = repoNames(request.params);
      return reply.type(LFS_JSON).send(await deps.locks.verify(await deps.authenticate(request), owner, name, request.body ?? {}));
    });

    lfs.post<{ Params: RepoParams & { id: string }; Body: { force?: unknown } }>(`${prefix}/locks/:id/unlock`, async (request, reply) => {
      requireLfsJson(request);
      const { owner, name } = repoNames(request.params);
      const lock = await deps.locks.unlock(await deps.authenticate(request), owner, name, request.params.id, request.body?.force);
      return reply.type(LFS_JSON).send({ lock });
    });
  });
}

/** Download through mlgit, with Range support so an interrupted download resumes. */
async function sendObject(request: FastifyRequest<{ Params: RepoParams & { oid: string } }>, reply: FastifyReply, deps: LfsDeps) {
  const object = await deps.lfs.download(repoNames(request.params), request.params.oid, actionToken(request));
  reply.header('Content-Type', 'application/octet-stream').header('X-Content-Type-Options', 'nosniff');
  return sendByteRange(request, reply, object.size, parseRange(request.headers.range, object.size), object.open);
}
