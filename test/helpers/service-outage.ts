import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase } from './postgres.ts';
import { spawnServer, type ServerProcess } from './server-process.ts';
import { cuttableProxy, type CuttableProxy } from './tcp-proxy.ts';

const REDIS_URL = process.env.MLGIT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * `mlgit serve` as a process on a fresh Postgres database and data dir, its connection to
 * `cut` (Postgres or Redis) running through a TCP proxy the test can cut: an outage of that
 * service. `watcher` is connected to the database directly and sees what the server wrote
 * whatever the proxy's state. All of it is torn down with the test.
 */
export async function serverWithCuttable(
  t: { teardown(fn: () => Promise<void>): void },
  cut: 'postgres' | 'redis',
  env: (dataDir: string, urls: { databaseUrl: string; redisUrl: string }) => Record<string, string>,
  startMs: number,
): Promise<{ server: ServerProcess; proxy: CuttableProxy; watcher: pg.Client; dataDir: string }> {
  const database = await createTestDatabase();
  const target = new URL(cut === 'postgres' ? database.url : REDIS_URL);
  const proxy = await cuttableProxy({ host: target.hostname, port: Number(target.port || (cut === 'postgres' ? 5432 : 6379)) });
  const proxied = new URL(target);
  proxied.host = `127.0.0.1:${proxy.port}`;
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), `mlgit-${cut}-cut-`));
  const urls = cut === 'postgres' ? { databaseUrl: proxied.toString(), redisUrl: REDIS_URL } : { databaseUrl: database.url, redisUrl: proxied.toString() };
  const server = await spawnServer(env(dataDir, urls), startMs);
  const watcher = new pg.Client({ connectionString: database.url });
  await watcher.connect();
  t.teardown(async () => {
    server.child.kill('SIGKILL');
    await server.exited;
    await watcher.end();
    await proxy.close();
    await database.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  return { server, proxy, watcher, dataDir };
}
