// SQLSTATE codes the domain reacts to (Postgres and PGlite report the same ones).

export function isUniqueViolation(err: unknown): boolean {
  return sqlState(err) === '23505';
}

export function isForeignKeyViolation(err: unknown): boolean {
  return sqlState(err) === '23503';
}

function sqlState(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { code?: string }).code : undefined;
}
