import type { Db } from '../db/connect.ts';
import * as locksDb from '../db/lfs-locks.ts';
import { atLeast } from './access.ts';
import { isUniqueViolation } from './sql-errors.ts';
import { DomainError, forbidden, invalid, notFound } from './errors.ts';
import type { Principal } from './model.ts';
import type { RepoService } from './repos.ts';

export interface LfsLock {
  id: string;
  path: string;
  locked_at: string;
  owner: { name: string };
}

type LockRow = NonNullable<Awaited<ReturnType<typeof locksDb.findLock>>>;

function present(row: LockRow): LfsLock {
  return { id: String(row.id), path: row.path, locked_at: row.locked_at.toISOString(), owner: { name: row.owner } };
}

/** Raised when a path is already locked: the HTTP layer answers 409 with the existing lock. */
export class LockExists extends DomainError {
  constructor(readonly lock: LfsLock) {
    super('conflict', 'already created lock');
  }
}

function parseId(raw: unknown): number | null {
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw)) return null;
  return Number(raw);
}

function parseLimit(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return 100;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalid('limit must be between 1 and 1000');
  return limit;
}

/** Cursors are the last id seen; anything else is rejected rather than guessed. */
function parseCursor(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return 0;
  const id = parseId(String(raw));
  if (id === null) throw invalid('invalid cursor');
  return id;
}

function cleanLockPath(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 4096 || raw.includes('\0')) throw invalid('path must be a non-empty string');
  return raw;
}

/** The LFS File Locking API (git-lfs docs/api/locking.md); lock ids are always scoped to their repo. */
export class LockService {
  constructor(
    private readonly db: Db,
    private readonly repos: RepoService,
  ) {}

  async create(principal: Principal | null, owner: string, name: string, body: { path?: unknown; ref?: { name?: unknown } }): Promise<LfsLock> {
    const { repo } = await this.repos.authorize(principal, owner, name, 'write');
    const path = cleanLockPath(body.path);
    const ref = typeof body.ref?.name === 'string' ? body.ref.name : null;
    try {
      const id = await locksDb.insertLock(this.db, repo.id, path, ref, principal!.user.id);
      return present((await locksDb.findLock(this.db, repo.id, id))!);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const existing = await locksDb.findLockByPath(this.db, repo.id, path);
      throw existing ? new LockExists(present(existing)) : err;
    }
  }

  async list(principal: Principal | null, owner: string, name: string, query: { path?: string; id?: string; cursor?: string; limit?: string }) {
    const { repo } = await this.repos.authorize(principal, owner, name, 'read');
    const limit = parseLimit(query.limit);
    let id: number | undefined;
    if (query.id !== undefined) {
      const parsed = parseId(query.id);
      if (parsed === null) return { locks: [] };
      id = parsed;
    }
    const rows = await locksDb.listLocks(this.db, repo.id, { path: query.path, id, afterId: parseCursor(query.cursor), limit: limit + 1 });
    return page(rows.map(present), limit);
  }

  async verify(principal: Principal | null, owner: string, name: string, body: { cursor?: unknown; limit?: unknown }) {
    const { repo } = await this.repos.authorize(principal, owner, name, 'write');
    const limit = parseLimit(body.limit);
    const rows = await locksDb.listLocks(this.db, repo.id, { afterId: parseCursor(body.cursor), limit: limit + 1 });
    const { locks, next_cursor } = page(rows, limit);
    const me = principal!.user.id;
    return {
      ours: locks.filter((l) => l.owner_id === me).map(present),
      theirs: locks.filter((l) => l.owner_id !== me).map(present),
      ...(next_cursor ? { next_cursor } : {}),
    };
  }

  /** Locks in the repo held by someone other than `userId` (a repo holds few locks: pre-receive filters them by the paths a push touches). */
  async heldByOthers(repoId: number, userId: number): Promise<{ path: string; owner: string }[]> {
    const rows = await locksDb.listLocks(this.db, repoId, { afterId: 0, limit: 100_000 });
    return rows.filter((l) => l.owner_id !== userId).map((l) => ({ path: l.path, owner: l.owner }));
  }

  async unlock(principal: Principal | null, owner: string, name: string, rawId: string, force: unknown): Promise<LfsLock> {
    const { repo, level } = await this.repos.authorize(principal, owner, name, 'write');
    const id = parseId(rawId);
    const lock = id === null ? undefined : await locksDb.findLock(this.db, repo.id, id);
    if (!lock) throw notFound('lock');
    if (lock.owner_id !== principal!.user.id) {
      if (force !== true) throw forbidden(`lock is owned by ${lock.owner}; use --force to break it`);
      if (!atLeast(level, 'admin')) throw forbidden('breaking another user\'s lock needs admin access to the repository');
    }
    await locksDb.deleteLock(this.db, repo.id, lock.id);
    return present(lock);
  }
}

function page<T extends { id: number | string }>(rows: T[], limit: number): { locks: T[]; next_cursor?: string } {
  if (rows.length <= limit) return { locks: rows };
  const locks = rows.slice(0, limit);
  return { locks, next_cursor: String(locks[locks.length - 1]!.id) };
}
