import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/**
 * Reads docker/compose.yaml the way `docker compose` does for the parts the tests use: a `.env`
 * file's variables, `${VAR}`, `${VAR:-default}`, `${VAR:?message}` and `$$` interpolation, and YAML
 * merge keys. The test starts the stack's services from what this returns, so the file itself is
 * what is proven, not a copy of its settings.
 */

export interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  group_add?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

export interface ComposeFile {
  name: string;
  services: Record<string, ComposeService>;
}

/** A `.env` file: KEY=value lines; blank lines, `#` comments and unquoted values' ` # comments` ignored. */
export function readEnvFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [index, line] of readFileSync(file, 'utf8').split('\n').entries()) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(trimmed);
    if (!match) throw new Error(`${file}:${index + 1}: not KEY=value: ${trimmed}`);
    env[match[1]!] = match[2]!.replace(/(^|\s+)#.*$/, '').trim();
  }
  return env;
}

/** Compose's interpolation of one string; a missing `${VAR:?msg}` throws with compose's message. */
export function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced, op, arg, bare) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare) as string;
    // Compose allows ${A:-${B}}; compose.yaml does not use it, so it is refused rather than half-done.
    if (typeof arg === 'string' && arg.includes('$')) throw new Error(`nested interpolation is not supported here: ${text}`);
    const value = env[name];
    const unset = op?.startsWith(':') ? !value : value === undefined;
    if (op?.endsWith('-')) return unset ? (arg as string) : value!;
    if (op?.endsWith('?') && unset) throw new Error(`required variable ${name} is missing a value: ${arg}`);
    return value ?? '';
  });
}

function interpolateDeep(value: unknown, env: Record<string, string>): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((item) => interpolateDeep(item, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateDeep(item, env)]));
  }
  return value;
}

export function readComposeFile(file: string, env: Record<string, string>): ComposeFile {
  const raw = parse(readFileSync(file, 'utf8'), { merge: true }) as { name: string; services: Record<string, unknown> };
  // Compose interpolates only the services it starts; x- extension fields are merged in already.
  return { name: raw.name, services: interpolateDeep(raw.services, env) as Record<string, ComposeService> };
}
