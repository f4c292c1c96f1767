import { spawn, spawnSync } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { checkSpec, JOB_PATH, jobArgv, jobEnv } from './job-spec.ts';
import { assertReachable, handOver, jobUser, type JobUser } from './job-user.ts';
import { OutputPump } from './output-pump.ts';
import { SANDBOX_OUTPUTS, sandboxArgs } from './sandbox-args.ts';
import { watchForStop } from './stop-watch.ts';
import { RuntimeError, type ContainerRuntime, type RunResult, type RunSpec } from './types.ts';

export interface ProcessRuntimeOptions {
  /** 'auto' (default): bubblewrap when it is installed and works here, else a plain child process. */
  sandbox?: 'auto' | 'bwrap' | 'none';
}

/** Time a job gets between SIGTERM and SIGKILL when it is stopped (timeout or cancel). */
export const KILL_GRACE_MS = 500;
/** Most bytes of bwrap's or prlimit's own stderr kept for the log (the job's stderr is merged into stdout). */
const SETUP_STDERR_LIMIT = 64 * 1024;
const JOB_NOFILE = 8192;

/**
 * Runs jobs as local child processes, for machines without a container engine (the embedded
 * default). Sandboxed with bubblewrap where it works; otherwise a plain process in its own process
 * group, running as `nobody` when the runner is root. Limits are rlimits set with prlimit.
 */
export class ProcessRuntime implements ContainerRuntime {
  readonly name = 'process';
  readonly warnings: readonly string[];
  private readonly sandboxed: boolean;
  private readonly closing = new AbortController();

  constructor(options: ProcessRuntimeOptions = {}) {
    const wanted = options.sandbox ?? 'auto';
    const bwrapProblem = wanted === 'none' ? 'disabled by configuration' : probeBwrap();
    if (wanted === 'bwrap' && bwrapProblem !== undefined) throw new RuntimeError(`bubblewrap sandbox requested but unusable: ${bwrapProblem}`);
    this.sandboxed = bwrapProblem === undefined;
    this.warnings = [
      'process runtime: the job runs directly on the runner machine; the manifest\'s `image` is ignored ' +
        '(programs come from the runner\'s own system, e.g. /usr/bin/python3).',
      'process runtime: no CPU limit; the memory limit is an address-space limit (RLIMIT_AS): an allocation ' +
        'beyond it fails inside the job (e.g. Python MemoryError) and is not reported as out-of-memory.',
      this.sandboxed
        ? 'process runtime: sandboxed with bubblewrap (only the workspace, outputs and /tmp are writable; no network unless enabled).'
        : `process runtime: NOT sandboxed (bubblewrap ${bwrapProblem}): the job can read what its user can read on this ` +
          'machine and reach the network whatever the manifest says; install bubblewrap (apt-get install bubblewrap).',
    ];
  }

  async run(spec: RunSpec): Promise<RunResult> {
    checkSpec(spec);
    if (spec.signal.aborted) return { outcome: 'cancelled', exitCode: null, durationMs: 0 };
    const user = jobUser();
    await handOver([spec.workspace, spec.outputs], user);
    if (!this.sandboxed) await assertReachable([spec.workspace, spec.outputs], user);
    const asRoot = (process.getuid?.() ?? 0) === 0;
    // Unsandboxed jobs need a HOME of their own; in the sandbox HOME is the private /tmp.
    const scratchHome = this.sandboxed ? undefined : await privateHome(user);
    try {
      return await this.spawnJob(spec, user, asRoot, scratchHome);
    } finally {
      if (scratchHome) await rm(scratchHome, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    this.closing.abort();
  }

  private async spawnJob(spec: RunSpec, user: JobUser, asRoot: boolean, scratchHome: string | undefined): Promise<RunResult> {
    const env = jobEnv(spec, { home: scratchHome ?? '/tmp', outputDir: this.sandboxed ? SANDBOX_OUTPUTS : spec.outputs });
    const limits = [`--as=${Math.round(spec.limits.memoryBytes)}`, `--nofile=${JOB_NOFILE}`, '--core=0'];
    // RLIMIT_NPROC counts every process of the user on the machine, so it is only meaningful for a
    // user that exists just for jobs (nobody, under a root runner); for a developer's own user it
    // would count their browser too. Concurrent jobs share it.
    if (asRoot) limits.push(`--nproc=${spec.limits.pids}`);
    const sandbox = this.sandboxed
      ? ['bwrap', ...sandboxArgs({ workspace: spec.workspace, outputs: spec.outputs, network: spec.network, dropTo: asRoot ? user : undefined })]
      : [];
    const argv = ['prlimit', ...limits, '--', ...sandbox, ...jobArgv(spec.commands)];
    const child = spawn(argv[0] as string, argv.slice(1), {
      cwd: this.sandboxed ? '/' : spec.workspace,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: a stop reaches the job's children too.
      detached: true,
      ...(!this.sandboxed && asRoot ? { uid: user.uid, gid: user.gid } : {}),
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

async function privateHome(user: JobUser): Promise<string> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'mlgit-job-home-'));
  if ((process.getuid?.() ?? 0) === 0) await chown(home, user.uid, user.gid);
  return home;
}

/** Why bubblewrap cannot sandbox jobs here, or undefined when it can (tried once, ~10 ms). */
function probeBwrap(): string | undefined {
  // The same mode real jobs use: a root runner enters as root and drops to the job user.
  const dropTo = (process.getuid?.() ?? 0) === 0 ? jobUser() : undefined;
  const probe = spawnSync('bwrap', sandboxArgs({ workspace: '/tmp', outputs: '/tmp', network: false, dropTo }).concat('/bin/true'), {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 10_000,
    env: { PATH: JOB_PATH },
  });
  if (probe.error) return (probe.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'is not installed' : `failed: ${probe.error.message}`;
  if (probe.status !== 0) return `does not work here: ${probe.stderr.toString().trim() || `exit ${probe.status}`}`;
  return undefined;
}
