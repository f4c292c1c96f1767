import type { Readable } from 'node:stream';
import type { Db } from '../db/connect.ts';
import * as lfsDb from '../db/lfs.ts';
import * as reposDb from '../db/repos.ts';
import type { ActionTokens } from './action-tokens.ts';
import { GroupCommit } from './group-commit.ts';
import { TransferRepoIds } from './lfs-transfer-repos.ts';
import { CachedProbe } from './cached-probe.ts';
import { DomainError, invalid, notFound } from './errors.ts';
import type { Principal, Repo } from './model.ts';
import type { ObjectStore, TransferAction } from './ports.ts';
import { type RepoService, toRepo } from './repos.ts';
import { isForeignKeyViolation } from './sql-errors.ts';

export const OID = /^[0-9a-f]{64}$/;

export interface BatchObjectRequest {
  oid: unknown;
  size: unknown;
}

export interface BatchRequest {
  operation: unknown;
  transfers?: unknown;
  objects: unknown;
  hash_algo?: unknown;
}

interface LfsAction {
  href: string;
  header: Record<string, string>;
  expires_in: number;
}

export interface BatchObjectResponse {
  oid: string;
  size: number;
  authenticated?: boolean;
  actions?: Record<string, LfsAction>;
  error?: { code: number; message: string };
}

export interface LfsLimits {
  maxObjectBytes: number;
  maxBatchObjects: number;
}

type RepoNames = { owner: string; name: string };

/** Builds the URLs of mlgit's own transfer endpoints for a repo (the HTTP layer knows the base). */
export type TransferUrls = (repo: Repo) => { object: (oid: string) => string; verify: string };

/**
 * The Git LFS batch API and basic transfer (git-lfs docs/api/batch.md, basic-transfers.md):
 * decides per object what the client must do, and records objects once their bytes are verified.
 */
const STORE_RETRY_AFTER_SECONDS = 10;

export class LfsService {
  // Concurrent uploads (git-lfs runs 8 at once) record their rows in one statement and commit.
  readonly #records = new GroupCommit<lfsDb.ObjectRecord>((records) => lfsDb.recordObjects(this.db, records));
  readonly #transferRepos = new TransferRepoIds();
  readonly #storeUp = new CachedProbe((timeoutMs) => this.store.reachable(timeoutMs));

  constructor(
    private readonly db: Db,
    private readonly repos: RepoService,
    private readonly store: ObjectStore,
    private readonly tokens: ActionTokens,
    private readonly limits: LfsLimits,
  ) {}

  /** `throughServer`: uploads go through mlgit even when the store could take them presigned (clients that send no action headers). */
  async batch(principal: Principal | null, owner: string, name: string, request: BatchRequest, urls: TransferUrls, options: { throughServer?: boolean } = {}) {
    const operation = request.operation;
    if (operation !== 'upload' && operation !== 'download') throw invalid('operation must be "upload" or "download"');
    // `sha_256` is how the Hugging Face clients spell it.
    if (request.hash_algo !== undefined && request.hash_algo !== 'sha256' && request.hash_algo !== 'sha_256') {
      throw new DomainError('conflict', `unsupported hash algorithm "${String(request.hash_algo)}"; mlgit uses sha256`);
    }
    if (request.transfers !== undefined && (!Array.isArray(request.transfers) || !request.transfers.includes('basic'))) {
      throw invalid('mlgit supports the "basic" transfer adapter only');
    }
    if (!Array.isArray(request.objects)) throw invalid('objects must be a list');
    if (request.objects.length > this.limits.maxBatchObjects) throw new DomainError('too_large', `at most ${this.limits.maxBatchObjects} objects per batch`);
    const { repo } = await this.repos.authorize(principal, owner, name, operation === 'upload' ? 'write' : 'read');

    const objects = (request.objects as BatchObjectRequest[]).map((o) => ({ oid: o?.oid, size: o?.size }));
    for (const o of objects) {
      if (typeof o.size === 'number' && Number.isSafeInteger(o.size) && o.size > this.limits.maxObjectBytes) {
        throw new DomainError('too_large', `object ${String(o.oid)} is ${o.size} bytes; this server accepts objects up to ${this.limits.maxObjectBytes} bytes`);
      }
    }
    const valid = objects.filter((o) => typeof o.oid === 'string' && OID.test(o.oid)).map((o) => o.oid as string);
    const [known, stored] = await Promise.all([
      lfsDb.repoObjects(this.db, repo.id, valid),
      operation === 'upload' ? lfsDb.knownObjects(this.db, valid) : new Map<string, number>(),
    ]);
    // Every transfer this answer hands out goes to the object store: with the store away the client
    // is told to come back (503, Retry-After) before it sends a byte, rather than failing mid-way.
    const transfers = objects.some((o) => typeof o.oid !== 'string' || operation === 'download' || known.get(o.oid) !== o.size);
    if (transfers && !(await this.#storeUp.up())) {
      throw new DomainError('unavailable', `the object store is unreachable; try again in ${STORE_RETRY_AFTER_SECONDS} seconds`, STORE_RETRY_AFTER_SECONDS);
    }
    const links = urls(repo);
    this.#transferRepos.remember(repo);
    const responses = await Promise.all(objects.map((o) => this.answer(operation, repo, o, known, stored, links, options.throughServer ?? false)));
    return { transfer: 'basic', objects: responses, hash_algo: 'sha256' };
  }

  private async answer(
    operation: 'upload' | 'download',
    repo: Repo,
    o: { oid: unknown; size: unknown },
    known: Map<string, number>,
    stored: Map<string, number>,
    links: ReturnType<TransferUrls>,
    throughServer: boolean,
  ): Promise<BatchObjectResponse> {
    const oid = typeof o.oid === 'string' ? o.oid : String(o.oid);
    const size = typeof o.size === 'number' ? o.size : -1;
    if (!OID.test(oid)) return { oid, size, error: { code: 422, message: 'oid must be 64 lowercase hex characters (sha256)' } };
    if (!Number.isSafeInteger(size) || size < 0) return { oid, size, error: { code: 422, message: 'size must be a non-negative integer' } };
    const knownSize = known.get(oid);

    if (operation === 'download') {
      if (knownSize === undefined) return { oid, size, error: { code: 404, message: 'object not found in this repository' } };
      const presigned = await this.store.presignDownload(oid, knownSize);
      return { oid, size: knownSize, authenticated: true, actions: { download: presigned ? lfsAction(presigned) : this.ownAction('download', repo, oid, knownSize, links.object(oid)) } };
    }
    // Already here for this repo: nothing to send. Known elsewhere only: the client must still
    // prove it has the bytes by uploading them (no linking without proof of possession). A
    // presigned upload cannot prove that (the client may skip it and only call verify while the
    // bytes are already in the store), so such objects go through mlgit, which hashes them.
    if (knownSize === size) return { oid, size, authenticated: true };
    const presigned = stored.has(oid) || throughServer ? null : await this.store.presignUpload(oid, size);
    if (!presigned) {
      // No verify action (it is optional, batch.md): mlgit answers the PUT only once the bytes are
      // hashed, fsynced and recorded, so a verify call would be one more request per object for nothing.
      return { oid, size, authenticated: true, actions: { upload: this.ownAction('upload', repo, oid, size, links.object(oid)) } };
    }
    return { oid, size, authenticated: true, actions: { upload: lfsAction(presigned), verify: this.ownAction('verify', repo, oid, size, links.verify, true) } };
  }

  private ownAction(op: 'upload' | 'download' | 'verify', repo: Repo, oid: string, size: number, href: string, direct = false): LfsAction {
    const token = this.tokens.sign({ op, repoId: repo.id, oid, size, ...(direct ? { direct } : {}) });
    const header: Record<string, string> = { Authorization: `RemoteAuth ${token}` };
    if (op === 'upload') header['Content-Type'] = 'application/octet-stream';
    return { href, header, expires_in: this.tokens.ttlSeconds };
  }

  /** Transfer endpoints authenticate with an action token, not a user: the repo is looked up by name only. */
  async repoByName(names: RepoNames): Promise<Repo> {
    const row = await reposDb.findRepo(this.db, names.owner, names.name);
    if (!row) throw transferRefused();
    return toRepo(row);
  }

  /**
   * The claims of a transfer's action token, for the repo its URL names. The repo id is the one
   * the last batch answer gave that URL when the token is signed for it (no database read per
   * object); otherwise the database says, and refusals are those of `claims`.
   */
  private async transferClaims(op: 'upload' | 'download', names: RepoNames, oid: string, token: string) {
    const remembered = this.#transferRepos.get(names);
    const claims = remembered === undefined ? null : this.tokens.verify(token, { op, repoId: remembered, oid });
    if (claims) return claims;
    const repo = await this.repoByName(names);
    this.#transferRepos.remember(repo);
    return this.claims(op, repo, oid, token);
  }

  /** Basic transfer upload through mlgit: stream, verify size + sha256, then record. */
  async upload(names: RepoNames, oid: string, actionToken: string, body: Readable, contentLength: number | null): Promise<void> {
    const claims = await this.transferClaims('upload', names, oid, actionToken);
    // Refuse a declared length that cannot match before reading a byte: the client gets a clean 422.
    if (contentLength !== null && contentLength !== claims.size) throw invalid(`Content-Length ${contentLength} does not match the object size ${claims.size}`);
    await this.store.put(oid, claims.size, body);
    await this.#records.add({ oid, size: claims.size, repoId: claims.repoId }).catch((err: unknown) => {
      // The repo was deleted since the batch answer (its token is still valid): answered like a
      // missing repo. The bytes stay in the store, as after an interrupted upload: another
      // repo may be storing the same oid right now, so they cannot be removed here.
      throw isForeignKeyViolation(err) ? transferRefused() : err;
    });
  }

  /**
   * The verify action: the object must be in the store with the announced size, and uploaded
   * for this repo. Bytes in the store alone prove nothing (another repo may have put them there):
   * an upload through mlgit has already recorded the object for the repo; only after a presigned
   * upload, where the store itself checked the bytes, does verify record it.
   */
  async verify(repo: Repo, sent: unknown, size: unknown, actionToken: string): Promise<void> {
    const claims = this.claims('verify', repo, typeof sent === 'string' ? sent : '', actionToken);
    const oid = claims.oid;
    if (size !== claims.size) throw invalid(`size ${String(size)} does not match the announced ${claims.size}`);
    const linked = (await lfsDb.repoObjects(this.db, repo.id, [oid])).get(oid);
    if (linked === undefined) {
      if (!claims.direct) throw new DomainError('not_found', `object ${oid} has not been uploaded to this repository`);
      // Recorded by another repo since the batch: whether this client's PUT or that upload put
      // the bytes there cannot be told apart, so the client has to send them through mlgit.
      if ((await lfsDb.knownObjects(this.db, [oid])).has(oid)) {
        throw new DomainError('conflict', `object ${oid} was stored meanwhile by another upload; push again to send it through mlgit`);
      }
    } else if (linked !== claims.size) {
      throw invalid(`stored object is ${linked} bytes, expected ${claims.size}`);
    }
    const stored = await this.store.stat(oid);
    if (!stored) throw notFound(`object ${oid}`);
    if (stored.size !== claims.size) throw invalid(`stored object is ${stored.size} bytes, expected ${claims.size}`);
    if (linked === undefined) await this.#records.add({ oid, size: claims.size, repoId: repo.id });
  }

  /** Basic transfer download through mlgit. */
  async download(names: RepoNames, oid: string, actionToken: string): Promise<{ size: number; open: (range?: { start: number; end: number }) => Promise<Readable> }> {
    const claims = await this.transferClaims('download', names, oid, actionToken);
    const size = (await lfsDb.repoObjects(this.db, claims.repoId, [oid])).get(oid);
    if (size === undefined) throw notFound(`object ${oid}`);
    return { size, open: (range) => this.store.get(oid, range) };
  }

  /**
   * The token is checked before anything the client sent: only a well-formed oid is ever signed, and
   * a stranger's malformed request must be refused exactly as it would be on a missing repository.
   */
  private claims(op: 'upload' | 'download' | 'verify', repo: Repo, oid: string, token: string) {
    const claims = this.tokens.verify(token, { op, repoId: repo.id, oid });
    if (!claims) throw transferRefused();
    return claims;
  }

  async listObjects(principal: Principal | null, owner: string, name: string, page: { page: number; perPage: number }) {
    const { repo } = await this.repos.authorize(principal, owner, name, 'read');
    const [rows, usage] = await Promise.all([lfsDb.listRepoObjects(this.db, repo.id, page.perPage, (page.page - 1) * page.perPage), lfsDb.repoUsage(this.db, repo.id)]);
    return { objects: rows.map((r) => ({ oid: r.oid, size: Number(r.size), created_at: r.created_at.toISOString() })), total: usage.objects, bytes: usage.bytes };
  }

  usage(repoId: number) {
    return lfsDb.repoUsage(this.db, repoId);
  }

  userUsage(userId: number) {
    return lfsDb.userUsage(this.db, userId);
  }

  /** Which of these oids this repo may serve (pre-receive checks pushed pointers against it). */
  async present(repoId: number, oids: string[]): Promise<Set<string>> {
    return new Set((await lfsDb.repoObjects(this.db, repoId, oids)).keys());
  }

  /** Removes objects no repository references any more. */
  async collectGarbage(dryRun: boolean): Promise<{ oid: string; size: number }[]> {
    const removed: { oid: string; size: number }[] = [];
    for (const row of await lfsDb.unreferencedObjects(this.db)) {
      if (dryRun) {
        removed.push({ oid: row.oid, size: Number(row.size) });
        continue;
      }
      // Row first: a concurrent upload that re-links the oid keeps it (and re-puts the bytes).
      if (await lfsDb.deleteObjectIfUnreferenced(this.db, row.oid)) {
        await this.store.delete(row.oid);
        removed.push({ oid: row.oid, size: Number(row.size) });
      }
    }
    return removed;
  }
}

/**
 * A missing repository and a refused action token get the same 404 on the transfer endpoints, so
 * a stranger cannot tell private repositories from missing ones there (as on the rest of the API).
 */
function transferRefused(): DomainError {
  return new DomainError('not_found', 'repository not found, or the transfer token is missing, expired or invalid; run the batch request again');
}

function lfsAction(action: TransferAction): LfsAction {
  return { href: action.href, header: action.header, expires_in: action.expiresInSeconds };
}
