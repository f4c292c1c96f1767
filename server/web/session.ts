import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The web session: a signed cookie carrying the user id and the credential version the user had
 * at sign-in (as login JWTs carry `ver`), so logout, a password change, suspension or deletion end
 * it without a session table. Anonymous visitors get a session too (no user) once they open a
 * form: its nonce is what their CSRF token is bound to, so even the sign-in form is protected.
 */
export interface Session {
  readonly userId: number | null;
  readonly version: number | null;
  /** Random per session; CSRF tokens are MACs of it. A new one at every sign-in and sign-out. */
  readonly nonce: string;
  readonly issuedAt: number;
}

export class SessionCookies {
  readonly name: string;
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly maxAgeSeconds: number,
    private readonly secure: boolean,
  ) {
    // A key of its own: a session cookie can never pass for a JWT or an LFS action token.
    this.key = createHmac('sha256', secret).update('mlgit web session v1').digest();
    // __Host- makes browsers refuse the cookie unless Secure, Path=/ and host-only: no subdomain can plant one.
    this.name = secure ? '__Host-mlgit_session' : 'mlgit_session';
  }

  create(userId: number | null, version: number | null, now = Date.now()): Session {
    return { userId, version, nonce: randomBytes(16).toString('base64url'), issuedAt: Math.floor(now / 1000) };
  }

  /** The session in a Cookie header, or null when absent, forged or expired. */
  read(cookieHeader: string | undefined, now = Date.now()): Session | null {
    const value = cookieValue(cookieHeader, this.name);
    if (!value) return null;
    const dot = value.lastIndexOf('.');
    if (dot < 0 || !this.matches(this.mac(value.slice(0, dot)), value.slice(dot + 1))) return null;
    let data: unknown;
    try {
      data = JSON.parse(Buffer.from(value.slice(0, dot), 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    const [userId, version, nonce, issuedAt] = Array.isArray(data) ? data : [];
    if (typeof nonce !== 'string' || typeof issuedAt !== 'number' || (userId !== null && typeof userId !== 'number') || (version !== null && typeof version !== 'number')) return null;
    if (issuedAt + this.maxAgeSeconds < now / 1000) return null;
    return { userId, version, nonce, issuedAt };
  }

  /** The Set-Cookie header value for a session. Lax: a link from elsewhere arrives signed in, a cross-site POST does not. */
  setCookie(session: Session): string {
    const payload = Buffer.from(JSON.stringify([session.userId, session.version, session.nonce, session.issuedAt])).toString('base64url');
    return this.attributes(`${this.name}=${payload}.${this.mac(payload)}`, this.maxAgeSeconds);
  }

  clearCookie(): string {
    return this.attributes(`${this.name}=`, 0);
  }

  csrfToken(session: Session): string {
    return this.mac(`csrf\0${session.nonce}`);
  }

  checkCsrf(session: Session | null, token: unknown): boolean {
    return session !== null && typeof token === 'string' && this.matches(this.csrfToken(session), token);
  }

  private attributes(pair: string, maxAge: number): string {
    return `${pair}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${this.secure ? '; Secure' : ''}`;
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }

  private matches(expected: string, given: string): boolean {
    const a = Buffer.from(expected);
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
