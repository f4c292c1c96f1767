import fs from 'node:fs/promises';
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './tables.ts';

export type Db = Kysely<Database>;

/**
 * Postgres when a URL is given (production), otherwise PGlite (real Postgres compiled to
 * WASM) in the data dir, so `npm start` needs nothing installed. Both run the same migrations.
 */
export async function connectDatabase(databaseUrl: string | null, dataDir: string): Promise<Db> {
  if (databaseUrl) {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  const dir = path.join(dataDir, 'pglite');
  await fs.mkdir(dir, { recursive: true });
  return new Kysely<Database>({ dialect: await pgliteDialect(dir) });
}

/** An ephemeral in-memory PGlite (tests of the database layer). */
export async function connectMemoryDatabase(): Promise<Db> {
  return new Kysely<Database>({ dialect: await pgliteDialect(undefined) });
}

async function pgliteDialect(dir: string | undefined) {
  // Loaded lazily: the WASM bundle costs start-up time that Postgres deployments never need.
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGliteDialect } = await import('kysely-pglite-dialect');
  return new PGliteDialect(new PGlite(dir));
}
