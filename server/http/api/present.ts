import type { FastifyRequest } from 'fastify';
import type { Repo, User } from '../../domain/model.ts';

/** Base URL clients should use: MLGIT_PUBLIC_URL, else what the request was addressed to. */
export function baseUrl(request: FastifyRequest, publicUrl: string | null): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  return `${request.protocol}://${request.host}`;
}

export function presentRepo(repo: Repo, base: string) {
  return {
    id: repo.id,
    owner: repo.owner,
    name: repo.name,
    full_name: `${repo.owner}/${repo.name}`,
    description: repo.description,
    private: repo.private,
    kind: repo.kind,
    default_branch: repo.defaultBranch,
    protected_branches: repo.protectedBranches,
    fork_parent_id: repo.forkParentId,
    clone_url: `${base}/${repo.owner}/${repo.name}.git`,
    created_at: repo.createdAt.toISOString(),
    updated_at: repo.updatedAt.toISOString(),
    pushed_at: repo.pushedAt ? repo.pushedAt.toISOString() : null,
  };
}

export function presentUser(user: User) {
  return { id: user.id, username: user.username, email: user.email, is_admin: user.isAdmin, created_at: user.createdAt.toISOString() };
}
