import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpawnedGit } from './spawned-git.ts';

const PROCESS_FILE = fileURLToPath(new URL('./spawner-process.mjs', import.meta.url));
const TAG_BYTES = 8;

type FromSpawner =
  | { type: 'spawned'; id: number; pid: number }
  | { type: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { type: 'error'; id: number; message: string; code: string | null };

export interface SpawnOptions {
  cwd?: string;
  /** The whole environment of the child: nothing is inherited from the spawner. */
  env: Record<string, string>;
  /** Which of stdin, stdout, stderr the caller wants as streams; the others are /dev/null. */
  stdio: readonly [boolean, boolean, boolean];
}

/**
 * Starts processes through a small long-lived helper (spawner-process.mjs) instead of forking
 * the server, whose size makes every fork() block its event loop for 40-200 ms (issue 15).
 *
 * The helper is forked on first use (or by start()) and again after it dies; a death fails the
 * processes it was starting or watching with an error, since their exit status is lost with it.
 * Their stdio are UNIX sockets from a listener in a private (0700) directory, so git and the
 * server exchange bytes directly.
 */
export class GitSpawner {
  private helper: ChildProcess | null = null;
  private listener: net.Server | null = null;
  private socketDir: string | null = null;
  private nextId = 1;
  private readonly inFlight = new Map<number, SpawnedGit>();

  /** Forks the helper now, while the server is still small (the one fork it pays itself). */
  start(): void {
    this.ensureHelper();
  }

  /** git processes started and not yet settled (the metrics' concurrent git processes). */
  get running(): number {
    return this.inFlight.size;
  }

  /** The helper's pid (tests crash it on purpose). */
  get helperPid(): number | undefined {
    return this.helper?.pid;
  }

  spawn(file: string, args: readonly string[], options: SpawnOptions): SpawnedGit {
    const helper = this.ensureHelper();
    // Ids wrap within the 32 bits of the socket tag; an id still in flight is never reused.
    do this.nextId = (this.nextId % 0xffffffff) + 1;
    while (this.inFlight.has(this.nextId));
    const id = this.nextId;
    const child = new SpawnedGit(
      options.stdio,
      (signal) => helper.connected && helper.send({ type: 'kill', id, signal }),
      () => this.forget(id),
    );
    this.inFlight.set(id, child);
    // While git runs, its exit message must keep the process alive; when idle, nothing should.
    if (this.inFlight.size === 1) this.helper?.channel?.ref();
    helper.send({ type: 'spawn', id, file, args, cwd: options.cwd, env: options.env, stdio: options.stdio });
    return child;
  }

  private forget(id: number): void {
    this.inFlight.delete(id);
    if (this.inFlight.size === 0) this.helper?.channel?.unref();
  }

  private ensureHelper(): ChildProcess {
    if (this.helper) return this.helper;
    const socketPath = this.ensureListener();
    const helper = fork(PROCESS_FILE, [socketPath], {
      // Not the server's flags (tsx): plain node, a small heap.
      execArgv: ['--max-old-space-size=32'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    helper.on('message', (message: FromSpawner) => this.onMessage(message));
    helper.on('error', (err) => {
      // A failed send or signal: treat the helper as lost, and make sure it is.
      helper.kill('SIGKILL');
      this.helperGone(helper, `git spawner failed: ${err.message}`);
    });
    helper.on('exit', (code, signal) => this.helperGone(helper, `git spawner exited (${signal ?? `code ${code}`})`));
    helper.unref();
    if (this.inFlight.size === 0) helper.channel?.unref();
    this.helper = helper;
    return helper;
  }

  private onMessage(message: FromSpawner): void {
    const child = this.inFlight.get(message.id);
    if (!child) return;
    if (message.type === 'spawned') child.started(message.pid);
    else if (message.type === 'exit') child.exited(message.code, message.signal);
    else child.failed(Object.assign(new Error(`git could not be started: ${message.message}`), { code: message.code ?? undefined }));
  }

  private helperGone(helper: ChildProcess, reason: string): void {
    if (this.helper !== helper) return;
    this.helper = null;
    for (const child of [...this.inFlight.values()]) {
      // Nobody can report this git's exit any more: stop it rather than leave it unwatched.
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      child.failed(new Error(`${reason}; git was ${child.pid === undefined ? 'not started' : 'stopped'}`));
    }
  }

  private ensureListener(): string {
    if (!this.socketDir) {
      this.socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlgit-spawner-'));
      const dir = this.socketDir;
      process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    }
    const socketPath = path.join(this.socketDir, 's');
    if (!this.listener) {
      this.listener = net.createServer((socket) => this.onConnection(socket));
      this.listener.listen(socketPath);
      this.listener.unref();
    }
    return socketPath;
  }

  /** Reads the 8-byte tag (id, stream number) the helper wrote, then hands the socket over. */
  private onConnection(socket: net.Socket): void {
    // Late errors (EPIPE, ECONNRESET when git dies) are reported by its exit status instead.
    socket.on('error', () => {});
    const onReadable = () => {
      const tag = socket.read(TAG_BYTES) as Buffer | null;
      if (tag === null) return;
      socket.off('readable', onReadable);
      const child = tag.length === TAG_BYTES ? this.inFlight.get(tag.readUInt32BE(0)) : undefined;
      if (child) child.attach(tag.readUInt8(4), socket);
      else socket.destroy();
    };
    socket.on('readable', onReadable);
  }
}

/** The process-wide spawner: one helper serves every git the server starts. */
export const gitSpawner = new GitSpawner();
