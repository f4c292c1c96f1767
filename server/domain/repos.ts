import type { Db } from '../db/connect.ts';
import * as collaboratorsDb from '../db/collaborators.ts';
import * as lfsDb from '../db/lfs.ts';
import * as pushesDb from '../db/pushes.ts';
import * as reposDb from '../db/repos.ts';
import * as usersDb from '../db/users.ts';
import { accessLevel, atLeast, isSiteAdmin } from './access.ts';
import { isUniqueViolation } from './sql-errors.ts';
import { conflict, forbidden, invalid, notFound, unauthenticated } from './errors.ts';
import type { AccessLevel, Principal, Repo, RepoKind, Role } from './model.ts';
import { assertBranchName, assertBranchPattern, assertRepoName } from './names.ts';
import type { GitBackend } from './ports.ts';

export type { RepoOrder } from '../db/repos.ts';

const KINDS: readonly RepoKind[] = ['model', 'dataset'];
const ROLES: readonly Role[] = ['read', 'write', 'admin'];

export function toRepo(row: reposDb.RepoWithOwner): Repo {
  return {
    id: row.id,
    ownerId: row.owner_id,
    owner: row.owner,
    name: row.name,
    description: row.description,
    private: row.private,
    kind: row.kind as RepoKind,
    defaultBranch: row.default_branch,
    protectedBranches: row.protected_branches,
    forkParentId: row.fork_parent_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    pushedAt: row.pushed_at,
    downloads: Number(row.downloads),
  };
}

export interface RepoAccess {
  repo: Repo;
  level: AccessLevel;
}

export interface RepoPatch {
  description?: unknown;
  private?: unknown;
  default_branch?: unknown;
  protected_branches?: unknown;
}

export class RepoService {
  constructor(
    private readonly db: Db,
    private readonly git: GitBackend,
  ) {}

  /**
   * Loads a repo and checks the caller may act on it at `wanted` level. Anonymous callers get
   * 401 (so git asks its credential helper); signed-in callers who may not see it get 404
   * (existence is not leaked); those who see it but lack the level get 403.
   */
  async authorize(principal: Principal | null, owner: string, name: string, wanted: Role): Promise<RepoAccess> {
    const row = await reposDb.findRepo(this.db, owner, name);
    // Anonymous requests for a missing name look exactly like private repos (401), so nothing leaks.
    if (!row) throw principal ? notFound('repository') : unauthenticated();
    const repo = toRepo(row);
    // A collaborator role changes nothing for job tokens, site admins and the owner: one query less on every git request of theirs.
    const roleMatters = principal !== null && !principal.job && !isSiteAdmin(principal) && principal.user.id !== repo.ownerId;
    const role = roleMatters ? ((await collaboratorsDb.findRole(this.db, repo.id, principal.user.id)) as Role | null) : null;
    const level = accessLevel(principal, repo, role);
    if (atLeast(level, wanted)) return { repo, level };
    if (!principal) throw unauthenticated();
    if (level === 'none') throw notFound('repository');
    throw forbidden(`${wanted} access to ${repo.owner}/${repo.name} required`);
  }

  async byId(id: number): Promise<Repo | null> {
    const row = await reposDb.findRepoById(this.db, id);
    return row ? toRepo(row) : null;
  }

  async create(principal: Principal, input: { name: unknown; private?: unknown; kind?: unknown; description?: unknown }): Promise<Repo> {
    if (!principal.scopes.has('write')) throw forbidden('creating a repository needs the "write" scope');
    const name = assertRepoName(input.name);
    const isPrivate = optionalBool(input.private, 'private') ?? false;
    const kind = input.kind === undefined ? 'model' : (KINDS as unknown[]).includes(input.kind) ? (input.kind as RepoKind) : null;
    if (!kind) throw invalid('kind must be "model" or "dataset"');
    const description = optionalText(input.description, 'description', 2000) ?? '';
    return this.insertWithStorage(
      { ownerId: principal.user.id, name, description, private: isPrivate, kind, defaultBranch: 'main', forkParentId: null },
      (id) => this.git.create(id, 'main'),
    );
  }

  async fork(principal: Principal, owner: string, name: string, input: { name?: unknown }): Promise<Repo> {
    const { repo: source } = await this.authorize(principal, owner, name, 'read');
    if (!principal.scopes.has('write')) throw forbidden('forking needs the "write" scope');
    const forkName = input.name === undefined ? source.name : assertRepoName(input.name);
    return this.insertWithStorage(
      {
        ownerId: principal.user.id,
        name: forkName,
        description: source.description,
        private: source.private,
        kind: source.kind,
        defaultBranch: source.defaultBranch,
        forkParentId: source.id,
      },
      async (id) => {
        await this.git.fork(source.id, id, source.defaultBranch);
        // The fork may serve the LFS objects its source had: the same proof of possession.
        await lfsDb.inheritObjects(this.db, source.id, id);
      },
    );
  }

  /** The row and the bare repo appear together: a failed git step removes the row again. */
  private async insertWithStorage(values: Parameters<typeof reposDb.insertRepo>[1], makeStorage: (id: number) => Promise<void>): Promise<Repo> {
    let id: number;
    try {
      id = (await reposDb.insertRepo(this.db, values)).id;
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`repository "${values.name}" already exists`);
      throw err;
    }
    try {
      await makeStorage(id);
    } catch (err) {
      await reposDb.deleteRepo(this.db, id);
      await this.git.remove(id);
      throw err;
    }
    const row = await reposDb.findRepoById(this.db, id);
    if (!row) throw notFound('repository');
    return toRepo(row);
  }

  async update(principal: Principal, owner: string, name: string, patch: RepoPatch): Promise<Repo> {
    const { repo } = await this.authorize(principal, owner, name, 'admin');
    const changes: Parameters<typeof reposDb.updateRepo>[2] = {};
    const description = optionalText(patch.description, 'description', 2000);
    if (description !== undefined) changes.description = description;
    const isPrivate = optionalBool(patch.private, 'private');
    if (isPrivate === false && repo.private) await this.assertMayGoPublic(repo);
    if (isPrivate !== undefined) changes.private = isPrivate;
    if (patch.default_branch !== undefined) changes.default_branch = assertBranchName(patch.default_branch);
    if (patch.protected_branches !== undefined) {
      if (!Array.isArray(patch.protected_branches) || patch.protected_branches.length > 100) throw invalid('protected_branches must be a list of branch names');
      changes.protected_branches = patch.protected_branches.map((b) => assertBranchPattern(b));
    }
    await reposDb.updateRepo(this.db, repo.id, changes);
    if (isPrivate === true && !repo.private) await reposDb.detachPublicForks(this.db, repo.id);
    if (changes.default_branch) await this.git.setDefaultBranch(repo.id, changes.default_branch);
    return toRepo((await reposDb.findRepoById(this.db, repo.id))!);
  }

  /** A fork of a private repository stays private while its source is (as on GitHub): publishing it would publish the source. */
  private async assertMayGoPublic(repo: Repo): Promise<void> {
    const parent = repo.forkParentId === null ? undefined : await reposDb.findRepoById(this.db, repo.forkParentId);
    if (parent?.private) {
      throw invalid(`${repo.owner}/${repo.name} is a fork of the private repository ${parent.owner}/${parent.name}: it stays private while its source is private`);
    }
  }

  /**
   * Deletes the repo. Deleting a private one also deletes the forks other users made of it (and
   * their forks): they held its content only through their access to it. Its owner's own forks
   * stay, detached. Answers the forks that went with it.
   */
  async remove(principal: Principal, owner: string, name: string): Promise<Repo[]> {
    const { repo } = await this.authorize(principal, owner, name, 'admin');
    const dependents = repo.private ? await this.forksLosingAccess(repo, async (userId) => userId === repo.ownerId) : [];
    await this.drop([repo, ...dependents]);
    return dependents;
  }

  /**
   * Forks of `source`, and their forks, whose owners do not `read` it: the walk stops at a fork
   * whose owner does, since that owner was entitled to grant access to its own forks.
   */
  private async forksLosingAccess(source: Repo, read: (userId: number) => Promise<boolean>): Promise<Repo[]> {
    const lost: Repo[] = [];
    for (let parents = [source.id]; parents.length > 0; ) {
      const forks = (await reposDb.forksOf(this.db, parents)).map(toRepo);
      parents = [];
      for (const fork of forks) {
        if (await read(fork.ownerId)) continue;
        lost.push(fork);
        parents.push(fork.id);
      }
    }
    return lost;
  }

  private async drop(repos: readonly Repo[]): Promise<void> {
    for (const repo of repos) {
      await reposDb.deleteRepo(this.db, repo.id);
      await this.git.remove(repo.id);
    }
  }

  async list(principal: Principal | null, query: { q?: string; owner?: string; kind?: string; page: number; perPage: number; order?: reposDb.RepoOrder }) {
    const { rows, total } = await reposDb.searchRepos(this.db, {
      viewerId: principal?.user.id ?? null,
      viewerIsAdmin: !!principal && principal.user.isAdmin && principal.scopes.has('admin'),
      q: query.q?.trim() || null,
      owner: query.owner || null,
      kind: query.kind || null,
      limit: query.perPage,
      offset: (query.page - 1) * query.perPage,
      ...(query.order ? { order: query.order } : {}),
    });
    return { repos: rows.map(toRepo), total };
  }

  /** Adds downloads counted by the Hugging Face API (server/domain/hf/downloads.ts). */
  addDownloads(counts: ReadonlyMap<number, number>): Promise<void> {
    return reposDb.addDownloads(this.db, counts);
  }

  async setCollaborator(principal: Principal, owner: string, name: string, username: string, role: unknown): Promise<void> {
    const { repo } = await this.authorize(principal, owner, name, 'admin');
    if (!(ROLES as unknown[]).includes(role)) throw invalid('role must be "read", "write" or "admin"');
    const user = await usersDb.findUserByName(this.db, username);
    if (!user) throw notFound(`user "${username}"`);
    if (user.id === repo.ownerId) throw invalid('the owner is not a collaborator');
    await collaboratorsDb.upsertCollaborator(this.db, repo.id, user.id, role as Role);
  }

  /**
   * Removes a collaborator. On a private repo, the forks they (or others through them) made and
   * can no longer read are deleted, as on GitHub: a fork must not outlive the access it was made
   * with. Answers those forks.
   */
  async removeCollaborator(principal: Principal, owner: string, name: string, username: string): Promise<Repo[]> {
    const { repo } = await this.authorize(principal, owner, name, 'admin');
    const user = await usersDb.findUserByName(this.db, username);
    if (!user || !(await collaboratorsDb.deleteCollaborator(this.db, repo.id, user.id))) throw notFound(`collaborator "${username}"`);
    if (!repo.private) return [];
    const lost = await this.forksLosingAccess(repo, (userId) => collaboratorsDb.readsPrivate(this.db, repo.id, userId));
    await this.drop(lost);
    return lost;
  }

  async collaborators(principal: Principal | null, owner: string, name: string) {
    const { repo } = await this.authorize(principal, owner, name, 'read');
    return collaboratorsDb.listCollaborators(this.db, repo.id);
  }

  /** The push log recorded by post-receive, newest first. */
  async pushes(principal: Principal | null, owner: string, name: string, limit: number) {
    const { repo } = await this.authorize(principal, owner, name, 'read');
    const rows = await pushesDb.listPushes(this.db, repo.id, limit);
    return rows.map((r) => ({ id: r.id, ref: r.ref, before: r.old_sha, after: r.new_sha, pusher: r.pusher, pushed_at: r.created_at.toISOString() }));
  }
}

function optionalBool(value: unknown, field: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalid(`${field} must be true or false`);
  return value;
}

function optionalText(value: unknown, field: string, max: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > max) throw invalid(`${field} must be a string of at most ${max} characters`);
  // Postgres text cannot store NUL: refuse it here rather than fail in the database (a 500).
  if (value.includes('\0')) throw invalid(`${field} must not contain NUL characters`);
  return value;
}
