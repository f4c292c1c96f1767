import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildApp, type App } from '../../server/app.ts';
import { loadConfig, type Config } from '../../server/config.ts';
import { createTestDatabase } from './postgres.ts';

export interface TestServer extends App {
  url: string;
  port: number;
  dataDir: string;
  config: Config;
  admin: { username: string; password: string };
  /** JSON API call; `auth` is "user:secret" for Basic, or a bare token for Bearer. */
  api(method: string, urlPath: string, options?: { auth?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
  /** Creates a user through the API and a token with the given scopes (default read, write, tokens: tests mint more with it); returns both secrets. */
  user(username: string, scopes?: string[]): Promise<{ username: string; password: string; token: string; basic: string; tokenBasic: string }>;
  /** http://user:secret@host/owner/name.git */
  gitUrl(owner: string, name: string, auth?: string): string;
  close(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => Promise<void> | void): void;
}

export const ADMIN_PASSWORD = 'admin-password-for-tests';

/** Builds and listens a real mlgit on a random loopback port, on a fresh Postgres database (or PGlite) and data dir. */
export async function startServer(t: Teardown, options: { database?: 'postgres' | 'pglite'; config?: Partial<Config> } = {}): Promise<TestServer> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-test-'));
  const database = options.database === 'pglite' ? null : await createTestDatabase();
  const config = loadConfig(
    { MLGIT_DATA_DIR: dataDir, MLGIT_ADMIN_PASSWORD: ADMIN_PASSWORD, MLGIT_LOG_LEVEL: process.env.MLGIT_TEST_LOG_LEVEL ?? 'silent' },
    { databaseUrl: database?.url ?? null, host: '127.0.0.1', port: 0, maintenanceDelayMs: 0, ...options.config },
  );
  const built = await buildApp(config);
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  const address = built.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  const url = `http://127.0.0.1:${address.port}`;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await built.app.close();
    await database?.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  };
  t.teardown(close);

  const api: TestServer['api'] = async (method, urlPath, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.auth) headers.authorization = opts.auth.includes(':') ? `Basic ${Buffer.from(opts.auth).toString('base64')}` : `Bearer ${opts.auth}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    }
    const response = await fetch(url + urlPath, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };

  const user: TestServer['user'] = async (username, scopes = ['read', 'write', 'tokens']) => {
    const password = `${username}-password`;
    // Sign-up is closed by default: users are created by the admin, as on a fresh install.
    const created = await api('POST', '/api/v1/users', { auth: `admin:${ADMIN_PASSWORD}`, body: { username, password } });
    if (created.status !== 201) throw new Error(`create user ${username}: ${created.status} ${JSON.stringify(created.body)}`);
    const token = await api('POST', '/api/v1/user/tokens', { auth: `${username}:${password}`, body: { name: 'test', scopes } });
    if (token.status !== 201) throw new Error(`create token: ${token.status} ${JSON.stringify(token.body)}`);
    return { username, password, token: token.body.token, basic: `${username}:${password}`, tokenBasic: `${username}:${token.body.token}` };
  };

  const gitUrl = (owner: string, name: string, auth?: string) => {
    const u = new URL(`${url}/${owner}/${name}.git`);
    if (auth) {
      const [userPart, ...secret] = auth.split(':');
      u.username = encodeURIComponent(userPart!);
      u.password = encodeURIComponent(secret.join(':'));
    }
    return u.toString();
  };

  return { ...built, url, port: address.port, dataDir, config, admin: { username: 'admin', password: ADMIN_PASSWORD }, api, user, gitUrl, close };
}
