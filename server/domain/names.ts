import { invalid } from './errors.ts';

// protocols.md: names outside this set are rejected before anything touches the filesystem.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_NAME = 100;

// First path segments the server itself routes (API, probes, web UI pages); a user by these names would be unreachable.
const RESERVED_OWNERS = new Set([
  'api', 'internal', 'healthz', 'readyz', 'metrics', 'static', 'assets', 'admin-ui',
  'explore', 'login', 'logout', 'signup', 'new', 'settings', 'search', 'users', 'orgs', 'docs', 'help', 'favicon.ico', 'robots.txt',
]);

export function isReservedOwner(name: string): boolean {
  return RESERVED_OWNERS.has(name.toLowerCase());
}

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME && NAME.test(name) && !name.toLowerCase().endsWith('.git') && !name.includes('..');
}

export function assertUsername(name: unknown): string {
  if (typeof name !== 'string' || !isValidName(name) || name.length > 40) {
    throw invalid('username must be 1-40 characters of letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  if (isReservedOwner(name)) throw invalid(`username "${name}" is reserved`);
  return name;
}

export function assertRepoName(name: unknown): string {
  if (typeof name !== 'string' || !isValidName(name)) {
    throw invalid('repository name must be 1-100 characters of letters, digits, ".", "_" or "-", start with a letter or digit, and not end in ".git"');
  }
  return name;
}

/** Strips the optional `.git` suffix of a URL segment; null when the rest is not a valid name. */
export function repoNameFromUrl(segment: string): string | null {
  const name = segment.toLowerCase().endsWith('.git') ? segment.slice(0, -4) : segment;
  return isValidName(name) ? name : null;
}

/** A branch name as git accepts it (git check-ref-format rules that matter for config values). */
export function assertBranchName(name: unknown): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > 200 ||
    name.startsWith('-') ||
    name.startsWith('/') ||
    name.endsWith('/') ||
    name.endsWith('.lock') ||
    name.includes('..') ||
    name.includes('@{') ||
    // eslint-disable-next-line no-control-regex -- control characters are exactly what git forbids
    /[\x00-\x20\x7f~^:?*[\\]/.test(name)
  ) {
    throw invalid(`"${String(name)}" is not a valid branch name`);
  }
  return name;
}

/** A protected-branch pattern: a branch name in which `*` matches within one path segment and `**` across (schema/manifest/globs.ts). */
export function assertBranchPattern(pattern: unknown): string {
  if (typeof pattern !== 'string') throw invalid('branch patterns must be strings');
  try {
    assertBranchName(pattern.replace(/\*/g, 'x'));
  } catch {
    throw invalid(`"${pattern}" is not a valid branch pattern`);
  }
  return pattern;
}
