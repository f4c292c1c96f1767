import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number }) => Promise<Buffer>;

// scrypt parameters: N=2^15 costs ~50 ms here, the OWASP-recommended minimum for interactive logins.
const PARAMS = { N: 1 << 15, r: 8, p: 1 };
const KEYLEN = 32;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, KEYLEN, { ...PARAMS, maxmem: 64 * 1024 * 1024 } as typeof PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  } as typeof PARAMS);
  return timingSafeEqual(actual, expected);
}

const TOKEN_PREFIX = 'mlg_';

/** Personal access tokens: 256 random bits; only the sha256 is stored, so a lookup is one index probe. */
export function newToken(): { token: string; hash: string } {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function looksLikeToken(secret: string): boolean {
  return secret.startsWith(TOKEN_PREFIX) && secret.length === TOKEN_PREFIX.length + 43;
}

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
