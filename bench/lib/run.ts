import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** What a finished child process left behind. stdout/stderr are kept only up to a tail limit. */
export interface RunResult {
  readonly code: number;
  readonly signal: NodeJS.Signals | null;
  readonly seconds: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin, then stdin is closed. Without it stdin is closed at once. */
  readonly input?: string;
  /** How much of the end of stdout and of stderr to keep (default 64 KiB each). */
  readonly maxOutputChars?: number;
}

// Clones print little, but a failing one can print a lot; the tail is what explains the failure.
const OUTPUT_TAIL_CHARS = 64 * 1024;

function appendTail(current: string, chunk: Buffer, limit = OUTPUT_TAIL_CHARS): string {
  const next = current + chunk.toString('utf8');
  return next.length > limit ? next.slice(next.length - limit) : next;
}

// Commands in flight, so an interrupted benchmark can stop them instead of leaving clones running.
const running = new Set<ChildProcess>();
let aborted = false;

/** Kills every command still running and refuses new ones: the benchmark is shutting down. */
export function abortRunningCommands(): void {
  aborted = true;
  for (const child of running) {
    // The whole group: git clone's helpers (remote-https, index-pack) would outlive their parent.
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Runs a command to completion and measures its wall time. Never rejects because of the exit
 * code: callers that time clones need to count failures, not abort on the first one.
 */
export function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  // Own process group, so abortRunningCommands can stop the command together with its children.
  const spawnOptions: SpawnOptions = { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true };
  return new Promise((resolve, reject) => {
    if (aborted) {
      reject(new Error(`not running ${command}: the benchmark is shutting down`));
      return;
    }
    const started = process.hrtime.bigint();
    const child = spawn(command, args, spawnOptions);
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout = appendTail(stdout, chunk, options.maxOutputChars)));
    child.stderr?.on('data', (chunk: Buffer) => (stderr = appendTail(stderr, chunk, options.maxOutputChars)));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      running.delete(child);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      resolve({ code: code ?? -1, signal, seconds, stdout, stderr });
    });
    child.stdin?.end(options.input);
  });
}

/** Like runCommand, but a non-zero exit is an error: for setup steps that must not fail. */
export async function runChecked(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) {
    const detail = (result.stderr || result.stdout).trim();
    throw new Error(`${command} ${args.join(' ')} exited with ${result.signal ?? result.code}\n${detail}`);
  }
  return result;
}
