import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RUNNER_MAX_METRICS_BYTES, type ClaimedJob, type CompleteRequest } from '../schema/runner-protocol.ts';
import { AttemptGone, RunnerApi } from './api-client.ts';
import { checkoutCommit, prepareGitHome } from './git-fetch.ts';
import { inJobSpan, untraced } from './job-trace.ts';
import { runtimeLimits } from './runtime/limits.ts';
import { LogPump } from './log-pump.ts';
import type { ContainerRuntime, RunResult } from './runtime/types.ts';
import { RuntimeError } from './runtime/types.ts';
import { ORPHAN_SWEEP_INTERVAL_MS } from './runtime/orphan-sweep.ts';
import { readSafe, safePath, sha256File } from './safe-files.ts';

export interface RunnerOptions {
  /** Where the server is, as this runner reaches it. */
  readonly serverUrl: () => string;
  readonly token: string;
  readonly name: string;
  /** Scratch space for workspaces (one directory per attempt, removed afterwards). */
  readonly workDir: string;
  readonly runtime: ContainerRuntime;
  readonly heartbeatMs: number;
  /** The server's MLGIT_RUN_STALL_TIMEOUT_MS: how long reports are retried follows from it. */
  readonly stallTimeoutMs: number;
  readonly log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export interface RunMessage {
  runId: number;
  attempt: number;
}

/**
 * Takes one queued run at a time per slot: claim it, fetch its commit with the job-scoped token,
 * run it through the container runtime while streaming logs and heartbeats, then report
 * metrics, outputs and the outcome. Only HTTP crosses to the server, so runners can live on
 * other machines. A failed job is a reported outcome, never a thrown queue error.
 */
export class Runner {
  private readonly api: RunnerApi;
  private readonly gitHome: Promise<void>;
  /** The cancel switches of the jobs running now. */
  private readonly inFlight = new Set<AbortController>();
  private readonly sweepTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: RunnerOptions) {
    this.api = new RunnerApi(options.serverUrl, options.token, reportPatienceMs(options.stallTimeoutMs), options.log);
    // Never an unhandled rejection (it would end the process): a failure shows at the first fetch.
    this.gitHome = prepareGitHome(path.join(options.workDir, 'git-home')).catch((err: unknown) => {
      options.log.warn({ err }, 'could not prepare the runner git home');
    });
    // Job containers of a runner that died (SIGKILL, a crashed host process) run on and hold
    // their resources: removed now, and periodically for peers that die while this one lives.
    if (options.runtime.sweepOrphans) {
      void this.sweepOrphans();
      this.sweepTimer = setInterval(() => void this.sweepOrphans(), ORPHAN_SWEEP_INTERVAL_MS).unref();
    }
  }

  private async sweepOrphans(): Promise<void> {
    try {
      const removed = (await this.options.runtime.sweepOrphans?.()) ?? [];
      if (removed.length > 0) this.options.log.info({ containers: removed }, 'removed job containers of runners that died');
    } catch (err) {
      this.options.log.warn({ err }, 'could not look for job containers of runners that died');
    }
  }

  /**
   * Shutting down: the jobs running now are stopped and their reports no longer retried, so the
   * queue's close is not held up for minutes by reports to a server that is going away. Their
   * runs stay `running` until the server's stall sweep retries them.
   */
  close(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.api.stop();
    for (const job of this.inFlight) job.abort();
  }

  /** The queue handler: returns normally for every outcome the server has been told about. */
  async handle(message: unknown): Promise<void> {
    const { runId, attempt } = message as RunMessage;
    let job: ClaimedJob;
    try {
      job = await untraced(() => this.api.claim(runId, attempt, this.options.name));
    } catch (err) {
      if (err instanceof AttemptGone) return; // cancelled, or another runner has it
      throw err; // server unreachable: the queue retries the message
    }
    await this.gitHome;
    const dir = await fs.mkdtemp(path.join(this.options.workDir, `run-${runId}-${attempt}-`));
    try {
      await inJobSpan(job, (traceparent) => this.execute(job, dir, traceparent));
    } finally {
      await fs.rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  }

  private async execute(job: ClaimedJob, dir: string, traceparent: string | undefined): Promise<void> {
    const { id, attempt } = job.run;
    const cancel = new AbortController();
    this.inFlight.add(cancel);
    const pump = new LogPump(this.api, id, attempt, () => cancel.abort());
    let gone = false;
    let beating = false;
    // A failed heartbeat is retried by the next one; one at a time, so a server slow to answer
    // is not sent a pile of them.
    const heartbeat = setInterval(() => {
      if (beating) return;
      beating = true;
      this.api
        .heartbeat(id, attempt)
        .then((signal) => signal.cancel && cancel.abort())
        .catch((err) => {
          if (err instanceof AttemptGone) {
            gone = true;
            cancel.abort();
          }
        })
        .finally(() => (beating = false));
    }, this.options.heartbeatMs);
    const started = Date.now();
    try {
      const workspace = path.join(dir, 'workspace');
      const outputs = path.join(dir, 'outputs');
      for (const warning of this.options.runtime.warnings) await pump.line(`warning: ${warning}`);
      let result: RunResult;
      try {
        await this.prepare(job, workspace, outputs, pump);
        await pump.line(`running ${job.spec.commands.length} command(s) in ${this.options.runtime.name === 'process' ? 'a local process' : job.spec.image}`);
        result = await this.options.runtime.run({
          image: job.spec.image,
          commands: [...job.spec.commands],
          workspace,
          outputs,
          env: { ...job.spec.env, MLP_RUN_ID: String(id), ...(traceparent ? { TRACEPARENT: traceparent } : {}) },
          limits: runtimeLimits(job.spec.resources, this.options.runtime),
          timeoutMs: job.spec.timeoutSeconds * 1000,
          network: job.spec.network,
          signal: cancel.signal,
          onOutput: (chunk) => pump.write(chunk),
        });
      } catch (err) {
        if (gone || err instanceof AttemptGone) return;
        const message = err instanceof RuntimeError || err instanceof Error ? err.message : String(err);
        await pump.line(`error: ${message}`).catch(() => {});
        await pump.flush().catch(() => {});
        await this.api.complete(id, { attempt, outcome: 'error', exit_code: null, duration_ms: Date.now() - started, message });
        return;
      }
      if (gone) return;
      const report: CompleteRequest = {
        attempt,
        outcome: result.outcome,
        exit_code: result.exitCode,
        duration_ms: result.durationMs,
        ...(await this.collect(job, workspace, outputs, result, pump)),
      };
      await pump.flush();
      await this.api.complete(id, report);
    } catch (err) {
      if (err instanceof AttemptGone || gone) return;
      this.options.log.error({ err, runId: id, repo: job.run.repo }, 'run could not be reported');
      throw err;
    } finally {
      clearInterval(heartbeat);
      this.inFlight.delete(cancel);
    }
  }

  private async prepare(job: ClaimedJob, workspace: string, outputs: string, pump: LogPump): Promise<void> {
    const home = path.join(this.options.workDir, 'git-home');
    const auth = { username: job.source.username, token: job.source.token };
    await pump.line(`fetching ${job.run.repo} at ${job.run.commit}`);
    await checkoutCommit(workspace, this.api.url(job.source.url), job.run.commit, auth, home);
    for (const dataset of job.datasets) {
      await pump.line(`fetching dataset ${dataset.name} at ${dataset.commit}`);
      await checkoutCommit(path.join(workspace, '.mlgit', 'datasets', dataset.name), this.api.url(dataset.url), dataset.commit, auth, home);
    }
    await fs.mkdir(outputs, { recursive: true });
    for (const input of job.inputs) {
      const target = await insideNew(workspace, input.path.replace(/\.tar$/, ''));
      const response = await this.api.input(input.href);
      if (input.path.endsWith('.tar')) {
        await fs.mkdir(target, { recursive: true });
        await untar(Readable.fromWeb(response.body! as never), target);
      } else {
        await pipeline(Readable.fromWeb(response.body! as never), createWriteStream(target));
      }
      await pump.line(`input ${input.path} (${input.size} bytes) from a dependency`);
    }
  }

  /** Metrics file text and output uploads, after the job; problems go to the log and the report. */
  private async collect(job: ClaimedJob, workspace: string, outputs: string, result: RunResult, pump: LogPump): Promise<Pick<CompleteRequest, 'metrics'>> {
    if (result.outcome !== 'exited' || result.exitCode !== 0) return {};
    for (const output of job.spec.outputs) {
      try {
        const file = await safePath(outputs, output.path);
        const stat = await fs.lstat(file);
        const upload = stat.isDirectory() ? await tarDir(file, path.join(path.dirname(outputs), 'upload.tar')) : file;
        if (!stat.isDirectory() && !stat.isFile()) throw new Error('is not a regular file or directory');
        const { oid, size } = await sha256File(upload);
        await this.api.uploadOutput(job.run.id, job.run.attempt, stat.isDirectory() ? `${output.path}.tar` : output.path, oid, size, () => createReadStream(upload));
        await pump.line(`output ${output.path}: ${size} bytes, sha256 ${oid}`);
      } catch (err) {
        if (err instanceof AttemptGone) throw err;
        await pump.line(`warning: output ${output.path} was not uploaded: ${(err as Error).message}`);
      }
    }
    if (!job.spec.metrics) return {};
    try {
      return { metrics: { text: await readSafe(workspace, job.spec.metrics.path, RUNNER_MAX_METRICS_BYTES) } };
    } catch (err) {
      const message = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the job did not write it' : (err as Error).message;
      await pump.line(`warning: metrics file ${job.spec.metrics.path}: ${message}`);
      return { metrics: { error: message } };
    }
  }
}

/** A not-yet-existing path inside `root` whose parents are real directories (created as needed). */
async function insideNew(root: string, relative: string): Promise<string> {
  const target = path.resolve(root, relative);
  if (!target.startsWith(root + path.sep)) throw new Error(`input "${relative}" leaves the workspace`);
  await fs.mkdir(path.dirname(target), { recursive: true });
  await safePath(root, path.relative(root, path.dirname(target)) || '.').catch((err: Error) => {
    if (path.dirname(target) !== root) throw err;
  });
  return target;
}

function runTar(args: string[], input?: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', args, { stdio: [input ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    if (input && child.stdin) input.pipe(child.stdin);
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar failed: ${err.trim()}`))));
  });
}

async function tarDir(dir: string, file: string): Promise<string> {
  // Symlinks are stored as links (never followed), so a dir output cannot smuggle host files out.
  await runTar(['-C', dir, '-cf', file, '.']);
  return file;
}

function untar(stream: Readable, dir: string): Promise<void> {
  return runTar(['-C', dir, '-xf', '-', '--no-same-owner', '--no-same-permissions'], stream);
}

/**
 * How long logs, outputs and the outcome are retried while the server cannot take them (a
 * database outage): the server keeps a run it still hears from alive, so this bounds how long an
 * outage may last; past twice the stall timeout and two minutes the runner gives up and says so.
 */
function reportPatienceMs(stallTimeoutMs: number): number {
  return Math.max(2 * stallTimeoutMs, 120_000);
}

export function defaultRunnerName(): string {
  return `${os.hostname()}-${process.pid}`;
}
