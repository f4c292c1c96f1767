// Names in the registry become git ref components (refs/models/<model>/v<n>,
// refs/models/<model>/aliases/<alias>), so they are checked here, before SQL or git sees them,
// with the same patterns the manifest schema uses.
import { invalid } from '../errors.ts';

const MODEL_RE = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;
const ALIAS_RE = /^[a-z][a-z0-9_-]{0,63}$/;
const VERSION_RE = /^[1-9][0-9]{0,8}$/;

/** Every model's implicit alias: its newest version. It is never stored and cannot be moved. */
export const LATEST = 'latest';

export function modelName(raw: string): string {
  if (raw.length > 64 || !MODEL_RE.test(raw) || raw.endsWith('.lock')) {
    throw invalid('model name must be 1-64 of a-z, 0-9, ".", "_", "-", start with a letter or digit, with no ".." and not end in ".lock"');
  }
  return raw;
}

export function aliasName(raw: string): string {
  if (!ALIAS_RE.test(raw)) throw invalid('alias must be 1-64 of a-z, 0-9, "_", "-", starting with a letter');
  return raw;
}

/** A version number in a path (`3` or `v3`). */
export function versionNumber(raw: string): number {
  const digits = raw.startsWith('v') ? raw.slice(1) : raw;
  if (!VERSION_RE.test(digits)) throw invalid('version must be a positive whole number such as 3 (or v3)');
  return Number(digits);
}

/** A version in a JSON body: a positive integer, or null where the body allows it. */
export function versionField(value: unknown, field: string, nullable: boolean): number | null {
  if (value === null && nullable) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(`${field} must be a positive whole number${nullable ? ' or null' : ''}`);
  }
  return value;
}

export function versionRef(model: string, version: number): string {
  return `refs/models/${model}/v${version}`;
}

export function aliasRef(model: string, alias: string): string {
  return `refs/models/${model}/aliases/${alias}`;
}
