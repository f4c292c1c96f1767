import { SignedTokens } from './signed-tokens.ts';

export type TransferOperation = 'upload' | 'download' | 'verify';

export interface ActionClaims {
  readonly op: TransferOperation;
  readonly repoId: number;
  readonly oid: string;
  readonly size: number;
  /**
   * On a verify token: the upload action went straight to the store (presigned), so the store
   * checked the bytes and verify is what records the object. Without it, only an upload
   * through mlgit can have recorded the object for the repo.
   */
  readonly direct?: boolean;
  /** Unix seconds. */
  readonly exp: number;
}

/**
 * Short-lived tokens for LFS action hrefs, scoped to one operation on one object of one repo.
 * The user's own credentials are never echoed into action headers (protocols.md).
 */
export class ActionTokens {
  private readonly tokens: SignedTokens<Omit<ActionClaims, 'exp'>>;

  constructor(
    secret: string,
    readonly ttlSeconds: number,
  ) {
    this.tokens = new SignedTokens(secret, 'mlgit lfs action tokens v1');
  }

  sign(claims: Omit<ActionClaims, 'exp'>, now = Date.now()): string {
    return this.tokens.sign(claims, this.ttlSeconds, now);
  }

  /** The claims when the token is authentic, unexpired and for exactly this operation and object. */
  verify(token: string, expected: { op: TransferOperation; repoId: number; oid: string }, now = Date.now()): ActionClaims | null {
    const claims = this.tokens.open(token, now);
    if (!claims) return null;
    if (claims.op !== expected.op || claims.repoId !== expected.repoId || claims.oid !== expected.oid) return null;
    return claims;
  }
}
