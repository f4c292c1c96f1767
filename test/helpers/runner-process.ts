import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/mlgit.mjs');

/** `mlgit runner` processes of a test (errors to the test's stderr); `killAll` ends those still running. */
export class RunnerProcesses {
  private readonly running = new Set<ChildProcess>();

  /** `env` names the queue, the server and the runtime (REDIS_URL, MLGIT_SERVER_URL, MLGIT_RUNNER_TOKEN, ...). */
  start(env: Record<string, string>): ChildProcess {
    const child = spawn(process.execPath, [CLI, 'runner'], {
      env: { PATH: process.env.PATH ?? '', MLGIT_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    this.running.add(child);
    child.on('exit', () => this.running.delete(child));
    return child;
  }

  killAll(): void {
    for (const child of this.running) child.kill('SIGKILL');
  }
}
