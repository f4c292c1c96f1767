import { bwrap } from './bwrap.ts';
import type { Sandbox, SandboxName } from './types.ts';
import { unshare } from './unshare.ts';

/** In order of preference: bubblewrap builds the sandbox in one process, unshare needs a dozen. */
const SANDBOXES: readonly Sandbox[] = [bwrap, unshare];

/** What the operator can do when no sandbox works (said in the start-up log, by doctor and in every run that ends `error`). */
export const NO_SANDBOX_FIX =
  'install bubblewrap (apt-get install bubblewrap), enable unprivileged user namespaces ' +
  '(sysctl kernel.unprivileged_userns_clone=1 on older Debian/Ubuntu kernels, sysctl user.max_user_namespaces=15000), ' +
  'or run jobs in containers (MLGIT_RUNTIME=docker)';

export interface SandboxChoice {
  /** The sandbox jobs run in, or undefined when none works here. */
  sandbox: Sandbox | undefined;
  /** Why each sandbox passed over cannot work here. */
  problems: string[];
}

/** Probes are cached for the life of the process: the machine does not change under a runner. */
const probed = new Map<SandboxName, string | undefined>();

function probe(sandbox: Sandbox): string | undefined {
  if (!probed.has(sandbox.name)) probed.set(sandbox.name, sandbox.probe());
  return probed.get(sandbox.name);
}

/** The first sandbox that works here ('auto'), or exactly the one asked for. */
export function chooseSandbox(wanted: 'auto' | SandboxName): SandboxChoice {
  const problems: string[] = [];
  for (const sandbox of SANDBOXES.filter((s) => wanted === 'auto' || s.name === wanted)) {
    const problem = probe(sandbox);
    if (problem === undefined) return { sandbox, problems };
    problems.push(`${sandbox.name}: ${problem}`);
  }
  return { sandbox: undefined, problems };
}

/** The error of every job when no sandbox works. */
export function noSandboxMessage(problems: readonly string[]): string {
  return `no sandbox works on this machine, so jobs cannot run safely (${problems.join('; ')}). Fix: ${NO_SANDBOX_FIX}.`;
}
