import { createHmac, timingSafeEqual } from 'node:crypto';

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
  private readonly key: Buffer;

  constructor(
    secret: string,
    readonly ttlSeconds: number,
  ) {
    // A key of its own, so an action token can never pass as a session JWT or vice versa.
    this.key = createHmac('sha256', secret).update('mlgit lfs action tokens v1').digest();
  }

  sign(claims: Omit<ActionClaims, 'exp'>, now = Date.now()): string {
    const body = Buffer.from(JSON.stringify({ ...claims, exp: Math.floor(now / 1000) + this.ttlSeconds })).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The claims when the token is authentic, unexpired and for exactly this operation and object. */
  verify(token: string, expected: { op: TransferOperation; repoId: number; oid: string }, now = Date.now()): ActionClaims | null {
    const [body, mac, extra] = token.split('.');
    if (!body || !mac || extra !== undefined) return null;
    const wanted = Buffer.from(this.mac(body));
    const given = Buffer.from(mac);
    if (wanted.length !== given.length || !timingSafeEqual(wanted, given)) return null;
    let claims: ActionClaims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as ActionClaims;
    } catch {
      return null;
    }
    if (claims.exp * 1000 < now) return null;
    if (claims.op !== expected.op || claims.repoId !== expected.repoId || claims.oid !== expected.oid) return null;
    return claims;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
