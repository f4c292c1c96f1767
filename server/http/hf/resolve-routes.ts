// The Hub's file URLs: `/{repo}/resolve/{revision}/{path}` (the file, LFS objects resolved) and
// `/{repo}/raw/{revision}/{path}` (the blob as git stores it), for models at the root and
// datasets under `/datasets/`. Headers as huggingface_hub's get_hf_file_metadata and
// @huggingface/hub's fileDownloadInfo read them: ETag, X-Repo-Commit, X-Linked-Etag,
// X-Linked-Size, Content-Length, Accept-Ranges, Content-Range, Location.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseRange } from '../../../lfs/range.ts';
import type { DownloadCounter } from '../../domain/hf/downloads.ts';
import type { HubEntry, HubGit } from '../../domain/hf/ports.ts';
import type { LfsService } from '../../domain/lfs.ts';
import type { RepoKind } from '../../domain/model.ts';
import type { ObjectStore } from '../../domain/ports.ts';
import { sendByteRange } from '../byte-range-reply.ts';
import { entryNotFound } from './hub-errors.ts';
import { hubCommit, hubPath, hubRepo, type HubRepoDeps, type HubRepoParams } from './hub-repo.ts';

export interface ResolveDeps extends HubRepoDeps {
  readonly hubGit: HubGit;
  readonly lfs: LfsService;
  readonly store: ObjectStore;
  readonly downloads: DownloadCounter;
}

type FileRequest = FastifyRequest<{ Params: HubRepoParams & { revision: string; '*': string } }>;

/** Raw bytes are data, never a page of this origin (the web UI's raw files get the same). */
const RAW_CSP = "default-src 'none'; sandbox";

/**
 * `hubClient`: the web UI serves `/:owner/:repo/resolve|raw/...` to browsers (HTML errors,
 * sign-in redirects, session cookies); requests that do not ask for HTML (HF clients, curl,
 * wget) get these routes. See the README's Decisions.
 */
export function registerResolveRoutes(app: FastifyInstance, deps: ResolveDeps): void {
  const constraints = { hubClient: true };
  for (const [prefix, kind] of [['', 'model'], ['/datasets', 'dataset']] as const) {
    const routeOptions = prefix ? {} : { constraints };
    app.route({ method: ['GET', 'HEAD'], url: `${prefix}/:owner/:repo/resolve/:revision/*`, ...routeOptions, handler: (request: FileRequest, reply) => resolveFile(deps, kind, request, reply, false) });
    app.route({ method: ['GET', 'HEAD'], url: `${prefix}/:owner/:repo/raw/:revision/*`, ...routeOptions, handler: (request: FileRequest, reply) => resolveFile(deps, kind, request, reply, true) });
  }
}

async function resolveFile(deps: ResolveDeps, kind: RepoKind, request: FileRequest, reply: FastifyReply, raw: boolean) {
  const { repo } = await hubRepo(deps, request, kind, request.params, 'read');
  const path = hubPath(request.params['*']);
  const commit = await hubCommit(deps.hubGit, repo, request.params.revision);
  const entry = path ? await deps.hubGit.entry(repo.id, commit, path) : null;
  if (!entry || entry.type !== 'file') throw entryNotFound(path);
  if (!raw) deps.downloads.count(repo.id);
  reply.header('X-Repo-Commit', commit).header('Accept-Ranges', 'bytes').header('X-Content-Type-Options', 'nosniff').header('Content-Security-Policy', RAW_CSP);
  reply.header('Content-Disposition', attachmentOf(path));
  if (raw || !entry.lfs) return sendBlob(deps, request, reply, repo.id, entry);
  return sendLfsObject(deps, request, reply, repo.id, entry as HubEntry & { lfs: NonNullable<HubEntry['lfs']> });
}

/** Files up to this size are read through the repository's long-lived cat-file process, bigger ones streamed by their own. */
const SMALL_FILE = 1024 * 1024;

/** A file git stores itself: the ETag is its blob id. */
function sendBlob(deps: ResolveDeps, request: FileRequest, reply: FastifyReply, repoId: number, entry: HubEntry) {
  const etag = `"${entry.oid}"`;
  reply.header('ETag', etag);
  if (entry.size <= SMALL_FILE) {
    return sendBytes(request, reply, etag, entry.size, async (range) => {
      const bytes = await deps.hubGit.readSmall(repoId, entry.oid);
      return range ? bytes.subarray(range.start, range.end + 1) : bytes;
    });
  }
  return sendBytes(request, reply, etag, entry.size, (range) => deps.hubGit.blob(repoId, entry.oid, range));
}

/**
 * An LFS file: the object's sha256 is its ETag (also as X-Linked-Etag, with X-Linked-Size, as the
 * Hub sends them). With S3 the answer is a redirect to a presigned URL, like the Hub's to its CDN:
 * the bytes never pass through mlgit, and clients read the headers of this first response.
 */
async function sendLfsObject(deps: ResolveDeps, request: FileRequest, reply: FastifyReply, repoId: number, entry: HubEntry & { lfs: NonNullable<HubEntry['lfs']> }) {
  const { oid, size } = entry.lfs;
  const etag = `"${oid}"`;
  reply.header('ETag', etag).header('X-Linked-Etag', etag).header('X-Linked-Size', String(size));
  // Served only when the repository references the object (uploaded there or inherited by a fork).
  if (!(await deps.lfs.present(repoId, [oid])).has(oid)) throw entryNotFound(`${entry.path} (its LFS object was never uploaded)`);
  const presigned = await deps.store.presignDownload(oid, size);
  if (presigned) return reply.code(302).header('Location', presigned.href).header('Content-Length', '0').send();
  return sendBytes(request, reply, etag, size, (range) => deps.store.get(oid, range));
}

type Body = import('node:stream').Readable | Buffer;
type Open = (range?: { start: number; end: number }) => Body | Promise<Body>;

/** 304 for a matching If-None-Match, 206 for a Range, 416 for a range outside the file, else 200. */
async function sendBytes(request: FileRequest, reply: FastifyReply, etag: string, size: number, open: Open) {
  reply.type('application/octet-stream');
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) return reply.code(304).send();
  return sendByteRange(request, reply, size, parseRange(request.headers.range, size), open);
}

function attachmentOf(path: string): string {
  const name = path.split('/').at(-1) ?? 'download';
  return `attachment; filename*=UTF-8''${encodeURIComponent(name)}; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"`;
}
