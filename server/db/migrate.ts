import { Migrator, type MigrationResultSet } from 'kysely';
import { migrations } from '../../migrations/index.ts';
import type { Db } from './connect.ts';

function migrator(db: Db): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations } });
}

function unwrap(result: MigrationResultSet): string[] {
  if (result.error) throw result.error instanceof Error ? result.error : new Error(String(result.error));
  return (result.results ?? []).map((r) => `${r.direction} ${r.migrationName}: ${r.status}`);
}

export async function migrateToLatest(db: Db): Promise<string[]> {
  return unwrap(await migrator(db).migrateToLatest());
}

/** Runs every down migration (used by the migration test: empty -> latest -> empty). */
export async function migrateDownAll(db: Db): Promise<string[]> {
  const m = migrator(db);
  const lines: string[] = [];
  for (;;) {
    const step = unwrap(await m.migrateDown());
    if (step.length === 0) return lines;
    lines.push(...step);
  }
}
