import { sql, type Expression, type SqlBool } from 'kysely';
import type { Db } from './connect.ts';
import type { RepoRow } from './tables.ts';

export type RepoWithOwner = RepoRow & { owner: string };

function withOwner(db: Db) {
  return db.selectFrom('repos').innerJoin('users', 'users.id', 'repos.owner_id').selectAll('repos').select('users.username as owner');
}

export async function findRepo(db: Db, owner: string, name: string): Promise<RepoWithOwner | undefined> {
  // Postgres text cannot hold NUL (the query would fail); no stored name can match one.
  if (owner.includes('\0') || name.includes('\0')) return undefined;
  return withOwner(db)
    .where(sql<string>`lower(users.username)`, '=', owner.toLowerCase())
    .where(sql<string>`lower(repos.name)`, '=', name.toLowerCase())
    .executeTakeFirst();
}

export function findRepoById(db: Db, id: number): Promise<RepoWithOwner | undefined> {
  return withOwner(db).where('repos.id', '=', id).executeTakeFirst();
}

export function listAllRepos(db: Db): Promise<RepoWithOwner[]> {
  return withOwner(db).orderBy('repos.id').execute();
}

export function insertRepo(
  db: Db,
  repo: { ownerId: number; name: string; description: string; private: boolean; kind: string; defaultBranch: string; forkParentId: number | null },
): Promise<RepoRow> {
  return db
    .insertInto('repos')
    .values({
      owner_id: repo.ownerId,
      name: repo.name,
      description: repo.description,
      private: repo.private,
      kind: repo.kind,
      default_branch: repo.defaultBranch,
      fork_parent_id: repo.forkParentId,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function updateRepo(
  db: Db,
  id: number,
  patch: Partial<{ description: string; private: boolean; default_branch: string; protected_branches: string[] }>,
): Promise<void> {
  await db.updateTable('repos').set({ ...patch, updated_at: new Date() }).where('id', '=', id).execute();
}

/** The direct forks of any of these repos. */
export function forksOf(db: Db, parentIds: readonly number[]): Promise<RepoWithOwner[]> {
  if (parentIds.length === 0) return Promise.resolve([]);
  return withOwner(db).where('repos.fork_parent_id', 'in', parentIds).orderBy('repos.id').execute();
}

/** Public forks split off from a source that turns private: they hold only what was public. */
export async function detachPublicForks(db: Db, parentId: number): Promise<void> {
  await db.updateTable('repos').set({ fork_parent_id: null }).where('fork_parent_id', '=', parentId).where('private', '=', false).execute();
}

export async function deleteRepo(db: Db, id: number): Promise<void> {
  await db.deleteFrom('repos').where('id', '=', id).execute();
}

export async function markPushed(db: Db, id: number): Promise<void> {
  await db.updateTable('repos').set({ pushed_at: new Date() }).where('id', '=', id).execute();
}

/** An explicit order of search results; without one, relevance, then the newest push. */
export interface RepoOrder {
  by: 'pushed' | 'created' | 'name' | 'downloads';
  direction: 'asc' | 'desc';
}

export interface RepoSearch {
  viewerId: number | null;
  viewerIsAdmin: boolean;
  q: string | null;
  owner: string | null;
  kind: string | null;
  limit: number;
  offset: number;
  order?: RepoOrder;
}

/** Prefix terms for to_tsquery: "digit clas" -> "digit:* & clas:*" (only word characters survive). */
function prefixQuery(q: string): string | null {
  const terms = q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return terms.length ? terms.slice(0, 8).map((t) => `${t}:*`).join(' & ') : null;
}

/**
 * Public repos plus those the viewer owns or collaborates on; full-text (prefix) search over
 * name and description, ordered by relevance then recent push.
 */
export async function searchRepos(db: Db, s: RepoSearch): Promise<{ rows: RepoWithOwner[]; total: number }> {
  const tsquery = s.q ? prefixQuery(s.q) : null;
  if (s.q && !tsquery) return { rows: [], total: 0 };
  // Filters with NUL can match nothing (and Postgres would reject the parameter).
  if (s.owner?.includes('\0') || s.kind?.includes('\0')) return { rows: [], total: 0 };
  let query = withOwner(db).where((eb) => {
    const visible: Expression<SqlBool>[] = [eb('repos.private', '=', false)];
    if (s.viewerIsAdmin) visible.push(sql<SqlBool>`true`);
    if (s.viewerId !== null) {
      visible.push(eb('repos.owner_id', '=', s.viewerId));
      visible.push(
        eb.exists(
          eb.selectFrom('collaborators').select('collaborators.repo_id').whereRef('collaborators.repo_id', '=', 'repos.id').where('collaborators.user_id', '=', s.viewerId),
        ),
      );
    }
    return eb.or(visible);
  });
  if (tsquery) query = query.where(sql<SqlBool>`repos.search @@ to_tsquery('simple', ${tsquery})`);
  if (s.owner) query = query.where(sql<string>`lower(users.username)`, '=', s.owner.toLowerCase());
  if (s.kind) query = query.where('repos.kind', '=', s.kind);

  const countRow = await query.clearSelect().select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  let ordered = query;
  const order = s.order;
  if (order?.by === 'name') ordered = ordered.orderBy(sql`lower(users.username)`, order.direction).orderBy(sql`lower(repos.name)`, order.direction);
  else if (order?.by === 'downloads') ordered = ordered.orderBy('repos.downloads', order.direction);
  else if (order?.by === 'created') ordered = ordered.orderBy('repos.created_at', order.direction);
  else if (order?.by === 'pushed') ordered = ordered.orderBy(sql`coalesce(repos.pushed_at, repos.created_at)`, order.direction);
  else if (tsquery) ordered = ordered.orderBy(sql`ts_rank(repos.search, to_tsquery('simple', ${tsquery}))`, 'desc');
  const rows = await ordered
    .orderBy(sql`repos.pushed_at desc nulls last`)
    .orderBy('repos.id', order?.direction ?? 'desc')
    .limit(s.limit)
    .offset(s.offset)
    .execute();
  return { rows, total: Number(countRow.n) };
}

/** Adds counted downloads to their repos' rows (one statement per repo; a deleted repo is skipped). */
export async function addDownloads(db: Db, counts: ReadonlyMap<number, number>): Promise<void> {
  for (const [repoId, n] of counts) await db.updateTable('repos').set({ downloads: sql`downloads + ${n}` }).where('id', '=', repoId).execute();
}
