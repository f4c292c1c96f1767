import type { AccessLevel, Principal, Repo, Role } from './model.ts';

const RANK: Record<AccessLevel, number> = { none: 0, read: 1, write: 2, admin: 3 };

export function atLeast(level: AccessLevel, wanted: Role): boolean {
  return RANK[level] >= RANK[wanted];
}

/**
 * The caller's access to a repo: site admin and owner -> admin; else the collaborator
 * role; else read on public repos. A token's scopes then cap the level, so a read-only
 * token can never push even for the owner.
 */
export function accessLevel(principal: Principal | null, repo: Repo, collaboratorRole: Role | null): AccessLevel {
  if (principal?.job) return principal.job.repoIds.has(repo.id) ? 'read' : 'none';
  let level: AccessLevel = repo.private ? 'none' : 'read';
  if (principal) {
    const { user } = principal;
    if (isSiteAdmin(principal) || user.id === repo.ownerId) level = 'admin';
    else if (collaboratorRole && RANK[collaboratorRole] > RANK[level]) level = collaboratorRole;
    level = capByScopes(level, principal);
  }
  return level;
}

function capByScopes(level: AccessLevel, principal: Principal): AccessLevel {
  const { scopes } = principal;
  const cap: AccessLevel = scopes.has('admin') ? 'admin' : scopes.has('write') ? 'write' : scopes.has('read') ? 'read' : 'none';
  return RANK[cap] < RANK[level] ? cap : level;
}

/** Site-wide admin actions need an admin user and, for tokens, the admin scope. */
export function isSiteAdmin(principal: Principal | null): boolean {
  return !!principal && principal.user.isAdmin && principal.scopes.has('admin');
}
