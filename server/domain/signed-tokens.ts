import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Stateless signed claims (`<base64url json>.<hmac>`) with an expiry, each purpose with a key of
 * its own derived from the server secret, so a token minted for one purpose never passes for another.
 */
export class SignedTokens<Claims extends object> {
  private readonly key: Buffer;

  constructor(secret: string, purpose: string) {
    this.key = createHmac('sha256', secret).update(purpose).digest();
  }

  sign(claims: Claims, ttlSeconds: number, now = Date.now()): string {
    const body = Buffer.from(JSON.stringify({ ...claims, exp: Math.floor(now / 1000) + ttlSeconds })).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The claims when the token is authentic and unexpired, else null. */
  open(token: string, now = Date.now()): (Claims & { exp: number }) | null {
    const [body, mac, extra] = token.split('.');
    if (!body || !mac || extra !== undefined) return null;
    const wanted = Buffer.from(this.mac(body));
    const given = Buffer.from(mac);
    if (wanted.length !== given.length || !timingSafeEqual(wanted, given)) return null;
    let claims: Claims & { exp: number };
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Claims & { exp: number };
    } catch {
      return null;
    }
    if (typeof claims !== 'object' || claims === null || typeof claims.exp !== 'number' || claims.exp * 1000 < now) return null;
    return claims;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
