import { relayArgv } from './port-relay.ts';
import type { PortRelay, ReadOnlyMount, RunSpec } from './types.ts';

/** PATH inside every job: the system's, never the runner's (a pyenv or nvm shim would shadow Debian's python3). */
export const JOB_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * The argv that runs the job's commands: each one through its own `/bin/sh -c`, in order, with the
 * commands passed as positional parameters so nothing is ever spliced into shell source.
 * `exec 2>&1` first: stderr joins stdout in one pipe, so the log keeps the exact order in which
 * the job wrote its lines (two pipes read separately can only approximate it). With a relay, it
 * starts first, in the background, in the same namespaces (it ends with the job's processes).
 */
export function jobArgv(commands: readonly string[], relay?: PortRelay): string[] {
  const run = 'for c in "$@"; do /bin/sh -c "$c" || exit; done';
  if (relay === undefined) return ['/bin/sh', '-c', `exec 2>&1; ${run}`, 'mlgit-job', ...commands];
  // The relay's argv goes in as positional parameters too, then is shifted off before the commands.
  const relayCommand = relayArgv(relay);
  const quoted = relayCommand.map((_, index) => `"\${${index + 1}}"`).join(' ');
  return ['/bin/sh', '-c', `exec 2>&1; ${quoted} & shift ${relayCommand.length}; ${run}`, 'mlgit-job', ...relayCommand, ...commands];
}

/**
 * The job's whole environment: what the spec gives, then PATH and HOME where the spec leaves them
 * out, and MLP_OUTPUT_DIR always from the runtime (it must name the real outputs mount).
 */
export function jobEnv(spec: Pick<RunSpec, 'env'>, paths: { home: string; outputDir: string }): Record<string, string> {
  return { PATH: JOB_PATH, HOME: paths.home, ...spec.env, MLP_OUTPUT_DIR: paths.outputDir };
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Rejects a spec no runtime could run faithfully, before anything starts. These are the
 * runner's bugs (a validated manifest never produces them), hence TypeError and not RuntimeError.
 */
export function checkSpec(spec: RunSpec): void {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(spec.env)) {
    if (!ENV_NAME.test(name)) problems.push(`env name ${JSON.stringify(name)} is not a valid variable name`);
    if (value.includes('\0')) problems.push(`env ${name} contains a NUL byte`);
  }
  spec.commands.forEach((command, index) => {
    if (command.includes('\0')) problems.push(`commands[${index}] contains a NUL byte`);
  });
  for (const [name, value] of Object.entries(spec.limits)) {
    if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) problems.push(`limits.${name} must be a positive number, got ${String(value)}`);
  }
  if (!Number.isInteger(spec.limits.pids)) problems.push(`limits.pids must be a whole number, got ${spec.limits.pids}`);
  if (!(Number.isFinite(spec.timeoutMs) && spec.timeoutMs > 0)) problems.push(`timeoutMs must be a positive number, got ${spec.timeoutMs}`);
  for (const key of ['workspace', 'outputs'] as const) problems.push(...hostPathProblems(key, spec[key]));
  problems.push(...mountProblems(spec.readOnlyMounts ?? []));
  if (spec.relay !== undefined) problems.push(...relayProblems(spec.relay));
  if (problems.length > 0) throw new TypeError(`invalid run spec: ${problems.join('; ')}`);
}

function hostPathProblems(what: string, value: string): string[] {
  const problems: string[] = [];
  if (!value.startsWith('/')) problems.push(`${what} must be an absolute path, got ${JSON.stringify(value)}`);
  if (value.includes(':') || value.includes(',')) problems.push(`${what} must not contain ':' or ',' (bind syntax), got ${JSON.stringify(value)}`);
  return problems;
}

/** Top-level names every runtime already uses for something else. */
const RESERVED_TARGETS = new Set(['workspace', 'outputs', 'usr', 'etc', 'proc', 'dev', 'tmp', 'bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32', 'sys', 'run', 'var', 'root', 'home']);

/** One level below / keeps every sandbox simple: the mount point is made in the fresh root, never inside a host tree. */
function mountProblems(mounts: readonly ReadOnlyMount[]): string[] {
  return mounts.flatMap((mount, index) => {
    const problems = hostPathProblems(`readOnlyMounts[${index}].source`, mount.source);
    const name = /^\/([A-Za-z0-9_.-]+)$/.exec(mount.target)?.[1];
    if (name === undefined || name === '.' || name === '..' || RESERVED_TARGETS.has(name)) {
      problems.push(`readOnlyMounts[${index}].target must be a top-level directory of the job's own such as /model, got ${JSON.stringify(mount.target)}`);
    }
    return problems;
  });
}

function relayProblems(relay: PortRelay): string[] {
  const problems: string[] = [];
  if (!(Number.isInteger(relay.port) && relay.port >= 1 && relay.port <= 65535)) problems.push(`relay.port must be a TCP port (1-65535), got ${relay.port}`);
  if (!/^\/outputs\/[A-Za-z0-9._-]+$/.test(relay.socket)) problems.push(`relay.socket must be a file directly in /outputs, got ${JSON.stringify(relay.socket)}`);
  return problems;
}
