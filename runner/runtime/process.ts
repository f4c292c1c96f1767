import { spawn } from 'node:child_process';
import os from 'node:os';
import { pipeline } from 'node:stream/promises';
import { checkSpec, jobArgv, jobEnv } from './job-spec.ts';
import { handOver, jobUser } from './job-user.ts';
import { OutputPump } from './output-pump.ts';
import { launchEnv } from './sandbox/launch.ts';
import { chooseSandbox, noSandboxMessage, type SandboxChoice } from './sandbox/select.ts';
import { SANDBOX_OUTPUTS, type Sandbox, type SandboxName, type SandboxPlan } from './sandbox/types.ts';
import { watchForStop } from './stop-watch.ts';
import { RuntimeError, type ContainerRuntime, type RunResult, type RunSpec } from './types.ts';

export interface ProcessRuntimeOptions {
  /** 'auto' (default): the first sandbox that works here (bwrap, then unshare); or exactly this one. */
  sandbox?: 'auto' | SandboxName;
  /**
   * MLGIT_UNSAFE_NO_SANDBOX: run jobs as plain processes of the runner's user, with no isolation at
   * all. Only for machines where every pusher is trusted (config refuses it with open sign-up).
   */
  unsafeNoSandbox?: boolean;
}

/** Time a job gets between SIGTERM and SIGKILL when it is stopped (timeout or cancel). */
export const KILL_GRACE_MS = 500;
/** Most bytes of the sandbox's or prlimit's own stderr kept for the log (the job's stderr is merged into stdout). */
const SETUP_STDERR_LIMIT = 64 * 1024;
const JOB_NOFILE = 8192;

/**
 * Runs jobs as local child processes, for machines without a container engine (the embedded
 * default), always in a sandbox (runner/runtime/sandbox/): when none works here every job ends
 * `error` saying how to fix it, unless the operator explicitly chose to run without one.
 * Limits are rlimits set with prlimit.
 */
export class ProcessRuntime implements ContainerRuntime {
  readonly name = 'process';
  readonly warnings: readonly string[];
  /** undefined: no sandbox (unsafeNoSandbox, or none works and `unavailable` says why). */
  private readonly sandbox: Sandbox | undefined;
  private readonly unavailable: string | undefined;
  private readonly closing = new AbortController();

  constructor(options: ProcessRuntimeOptions = {}) {
    const wanted = options.sandbox ?? 'auto';
    const choice: SandboxChoice = options.unsafeNoSandbox ? { sandbox: undefined, problems: [] } : chooseSandbox(wanted);
    if (wanted !== 'auto' && !options.unsafeNoSandbox && choice.sandbox === undefined) {
      throw new RuntimeError(`sandbox ${wanted} requested but unusable: ${choice.problems.join('; ')}`);
    }
    this.sandbox = choice.sandbox;
    this.unavailable = choice.sandbox || options.unsafeNoSandbox ? undefined : noSandboxMessage(choice.problems);
    this.warnings = [
      ...(options.unsafeNoSandbox ? [unsafeWarning()] : []),
      'process runtime: the job runs directly on the runner machine; the manifest\'s `image` is ignored ' +
        '(programs come from the runner\'s own system, e.g. /usr/bin/python3).',
      'process runtime: no CPU limit; the memory limit is an address-space limit (RLIMIT_AS): an allocation ' +
        'beyond it fails inside the job (e.g. Python MemoryError) and is not reported as out-of-memory.',
      ...(this.sandbox
        ? [`process runtime: sandboxed with ${this.sandbox.label} (only the workspace, outputs, /tmp and /dev/shm are writable; no network unless enabled).`]
        : []),
    ];
  }

  async run(spec: RunSpec): Promise<RunResult> {
    checkSpec(spec);
    if (this.unavailable !== undefined) throw new RuntimeError(this.unavailable);
    if (spec.commands.length === 0) throw new RuntimeError('the process runtime has no images: an image\'s own entrypoint needs the docker runtime (MLGIT_RUNTIME=docker); give a command to run it here');
    if (spec.signal.aborted) return { outcome: 'cancelled', exitCode: null, durationMs: 0 };
    if (this.sandbox) return this.runSandboxed(spec, this.sandbox);
    // Without a sandbox there is no mount namespace to show the directories in.
    if ((spec.readOnlyMounts ?? []).length > 0) throw new RuntimeError('read-only mounts (deployments) need a sandbox; MLGIT_UNSAFE_NO_SANDBOX runs without one');
    return this.spawnJob(spec, unsafeLaunch(spec));
  }

  async close(): Promise<void> {
    this.closing.abort();
  }

  private async runSandboxed(spec: RunSpec, sandbox: Sandbox): Promise<RunResult> {
    const user = jobUser();
    await handOver([spec.workspace, spec.outputs], user);
    const env = jobEnv(spec, { home: '/tmp', outputDir: SANDBOX_OUTPUTS });
    const plan: SandboxPlan = {
      workspace: spec.workspace,
      outputs: spec.outputs,
      network: spec.network,
      user,
      asRoot: (process.getuid?.() ?? 0) === 0,
      pids: spec.limits.pids,
      tmpfsBytes: Math.round(spec.limits.memoryBytes),
      envNames: Object.keys(env),
      readOnly: spec.readOnlyMounts ?? [],
    };
    let argv: string[];
    try {
      argv = sandbox.wrap(plan);
    } catch (error) {
      throw new RuntimeError(`cannot set up the ${sandbox.name} sandbox: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    return this.spawnJob(spec, { argv: [...rlimits(spec), ...argv, ...jobArgv(spec.commands, spec.relay)], env: launchEnv(env), cwd: '/' });
  }

  private async spawnJob(spec: RunSpec, launch: Launch): Promise<RunResult> {
    const child = spawn(launch.argv[0] as string, launch.argv.slice(1), {
      cwd: launch.cwd,
      env: launch.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: a stop reaches the sandbox and, unsandboxed, the job's children too.
      detached: true,
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', (error) => reject(new RuntimeError(`could not start the job process: ${error.message}`, { cause: error })));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    let setupErrors = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (setupErrors.length < SETUP_STDERR_LIMIT) setupErrors += chunk.toString('utf8');
    });
    const output = pipeline(child.stdout, new OutputPump(spec.onOutput).sink);
    output.catch(() => killGroup(child.pid, 'SIGKILL'));

    // A failed spawn emits 'error' (exited rejects) and never 'spawn'.
    await Promise.race([new Promise<void>((resolve) => child.once('spawn', resolve)), exited]);
    const started = Date.now();
    spec.onStart?.();
    let killTimer: NodeJS.Timeout | undefined;
    const watch = watchForStop({ signal: AbortSignal.any([spec.signal, this.closing.signal]), timeoutMs: spec.timeoutMs }, () => {
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
    });
    try {
      const { code, signal } = await exited;
      // The job is over once its top process is: whatever it left in its group goes too (in the
      // sandbox the pid namespace already took them), so nothing holds the output pipe open.
      killGroup(child.pid, 'SIGKILL');
      await output.catch((error: unknown) => {
        throw new RuntimeError(`the job's output could not be delivered: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      });
      const durationMs = Date.now() - started;
      if (watch.reason !== undefined) return { outcome: watch.reason, exitCode: null, durationMs };
      const exitCode = code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0);
      if (exitCode !== 0 && setupErrors.trim() !== '') await spec.onOutput(Buffer.from(setupErrors));
      return { outcome: 'exited', exitCode, durationMs };
    } finally {
      watch.dispose();
      clearTimeout(killTimer);
    }
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

interface Launch {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
}

/** Address space, open files and no core dumps, for everything the job starts (the sandbox sets the process limit). */
function rlimits(spec: RunSpec): string[] {
  return ['prlimit', `--as=${Math.round(spec.limits.memoryBytes)}`, `--nofile=${JOB_NOFILE}`, '--core=0', '--'];
}

/**
 * MLGIT_UNSAFE_NO_SANDBOX: the job runs as the runner's own user, in its workspace, with its
 * environment as given. No process limit: RLIMIT_NPROC would count all of that user's processes.
 */
function unsafeLaunch(spec: RunSpec): Launch {
  return { argv: [...rlimits(spec), ...jobArgv(spec.commands, spec.relay)], env: jobEnv(spec, { home: spec.workspace, outputDir: spec.outputs }), cwd: spec.workspace };
}

function unsafeWarning(): string {
  const uid = process.getuid?.() ?? 0;
  return (
    `UNSAFE: MLGIT_UNSAFE_NO_SANDBOX is set: this job runs WITHOUT a sandbox, as uid ${uid}${uid === 0 ? ' (root)' : ''} on the runner machine. ` +
    'It can read whatever that user can (the server\'s data dir and secrets, other repositories), reach the network and local services, ' +
    'and leave processes behind.'
  );
}
