import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import v8 from 'node:v8';
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from './tables.ts';

export type Db = Kysely<Database>;

/** The Postgres pool behind each Db (none for PGlite), for the metrics' pool usage. */
const pools = new WeakMap<Db, { totalCount: number; idleCount: number; waitingCount: number }>();

export function poolUsage(db: Db): { total: number; idle: number; waiting: number } | null {
  const pool = pools.get(db);
  return pool ? { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } : null;
}

/**
 * Postgres when a URL is given (production), otherwise PGlite (real Postgres compiled to
 * WASM) in the data dir, so `npm start` needs nothing installed. Both run the same migrations.
 */
export async function connectDatabase(databaseUrl: string | null, dataDir: string): Promise<Db> {
  if (databaseUrl) {
    // Loaded only here: the embedded default never needs the driver's ~10 MB.
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
    // An idle client dropped by the server (restart, failover) must not crash the process;
    // the pool replaces it and /readyz reports the outage meanwhile.
    pool.on('error', (err) => process.emitWarning(`postgres idle client error: ${err.message}`));
    // A checked-out client has no pool listener: a connection lost while it is handed over or
    // between a transaction's statements would otherwise crash the process (the statement fails anyway).
    pool.on('connect', (client) => client.on('error', (err) => process.emitWarning(`postgres client error: ${err.message}`)));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    pools.set(db, pool);
    return db;
  }
  const dir = path.join(dataDir, 'pglite');
  await fs.mkdir(dir, { recursive: true });
  const initialised = await fs.access(path.join(dir, 'PG_VERSION')).then(() => true, () => false);
  if (!initialised) await promisify(execFile)(process.execPath, [fileURLToPath(new URL('./pglite-initdb.mjs', import.meta.url)), dir]);
  return new Kysely<Database>({ dialect: await pgliteDialect(dir) });
}

/** An ephemeral in-memory PGlite (tests of the database layer). */
export async function connectMemoryDatabase(): Promise<Db> {
  return new Kysely<Database>({ dialect: await pgliteDialect(undefined) });
}

async function pgliteDialect(dir: string | undefined) {
  // V8 keeps ~60 MB of its optimising compiler's output and working memory for PGlite's 10 MB
  // of WASM once queries have warmed it up, and never returns it. Liftoff's baseline code alone
  // measured no slower here: a statement's cost is PGlite's JavaScript around the WASM call (the
  // protocol, the file system emulation), not the query executor. Set before the module is compiled;
  // it applies to the process's other WASM too (undici's HTTP parser, used by fetch).
  v8.setFlagsFromString('--liftoff-only');
  // Loaded lazily: the WASM bundle costs start-up time that Postgres deployments never need.
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  // A small buffer pool: the embedded database holds accounts and metadata, not bulk data,
  // and WASM memory once grown is never given back.
  return new PGliteDialect(new PGlite(dir, { postgresqlconf: ['shared_buffers=4MB'] }));
}
