/** Domain types: what services hand to the HTTP layer (rows are mapped, never leaked). */
export interface User {
  readonly id: number;
  readonly username: string;
  readonly email: string | null;
  readonly isAdmin: boolean;
  readonly createdAt: Date;
}

/** `tokens`: create, list and revoke the user's tokens (never with scopes the credential lacks). */
export type Scope = 'read' | 'write' | 'admin' | 'tokens';
export const SCOPES: readonly Scope[] = ['read', 'write', 'admin', 'tokens'];

/** Who is calling, and what their credential allows (a password or JWT allows everything the user may do). */
export interface Principal {
  readonly user: User;
  readonly scopes: ReadonlySet<Scope>;
  readonly via: 'password' | 'token' | 'jwt' | 'job';
  /** The personal access token used, so a token can always revoke itself. */
  readonly tokenId?: number;
  /** A runner fetching for one run: read access to exactly these repos, nothing else. */
  readonly job?: { readonly runId: number; readonly repoIds: ReadonlySet<number> };
}

export type RepoKind = 'model' | 'dataset';
export type Role = 'read' | 'write' | 'admin';
export type AccessLevel = 'none' | Role;

export interface Repo {
  readonly id: number;
  readonly ownerId: number;
  readonly owner: string;
  readonly name: string;
  readonly description: string;
  readonly private: boolean;
  readonly kind: RepoKind;
  readonly defaultBranch: string;
  readonly protectedBranches: readonly string[];
  readonly forkParentId: number | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly pushedAt: Date | null;
  /** Files fetched through the Hugging Face API's `resolve`, as last written to the row. */
  readonly downloads: number;
}

export interface RefUpdate {
  readonly oldSha: string;
  readonly newSha: string;
  readonly ref: string;
}

export const ZERO_SHA = '0000000000000000000000000000000000000000';
