import type { RunSpec } from './types.ts';

/** PATH inside every job: the system's, never the runner's (a pyenv or nvm shim would shadow Debian's python3). */
export const JOB_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * The argv that runs the job's commands: each one through its own `/bin/sh -c`, in order, with the
 * commands passed as positional parameters so nothing is ever spliced into shell source.
 * `exec 2>&1` first: stderr joins stdout in one pipe, so the log keeps the exact order in which
 * the job wrote its lines (two pipes read separately can only approximate it).
 */
export function jobArgv(commands: readonly string[]): string[] {
  const driver = 'exec 2>&1; for c in "$@"; do /bin/sh -c "$c" || exit; done';
  return ['/bin/sh', '-c', driver, 'mlgit-job', ...commands];
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
  for (const key of ['workspace', 'outputs'] as const) {
    if (!spec[key].startsWith('/')) problems.push(`${key} must be an absolute path, got ${JSON.stringify(spec[key])}`);
    if (spec[key].includes(':') || spec[key].includes(',')) problems.push(`${key} must not contain ':' or ',' (bind syntax), got ${JSON.stringify(spec[key])}`);
  }
  if (problems.length > 0) throw new TypeError(`invalid run spec: ${problems.join('; ')}`);
}
