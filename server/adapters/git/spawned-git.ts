import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { PassThrough, pipeline, type Readable, type Writable } from 'node:stream';

/** What mlgit's code uses of a git child process; node's ChildProcess and SpawnedGit both fit. */
export interface GitChild extends EventEmitter {
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * A git process started by the spawner (git-spawner.ts), shaped like a ChildProcess: 'exit'
 * (code, signal), then 'close' once stdout and stderr have been read to the end; 'error' when
 * git could not be started or its exit status was lost.
 *
 * The streams exist before git does (callers write and pipe at once), so each is a PassThrough
 * that the real socket is piped to or from when it arrives. That is one in-process hop per chunk
 * with the same backpressure as a pipe; the bytes never pass through the spawner.
 */
export class SpawnedGit extends EventEmitter implements GitChild {
  readonly stdin: PassThrough | null;
  readonly stdout: PassThrough | null;
  readonly stderr: PassThrough | null;
  pid: number | undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  private stdinSocket: Socket | null = null;
  private socketsPending: number;
  private closesNeeded = 1;
  private done = false;

  /**
   * `onSettled` runs once git's end is known and no socket of it can still arrive: the exit
   * message and the sockets travel separately, and either may come first.
   */
  constructor(
    stdio: readonly [boolean, boolean, boolean],
    private readonly sendKill: (signal: NodeJS.Signals) => void,
    private readonly onSettled: () => void,
  ) {
    super();
    [this.stdin, this.stdout, this.stderr] = stdio.map((wanted) => (wanted ? new PassThrough() : null)) as [PassThrough | null, PassThrough | null, PassThrough | null];
    this.socketsPending = stdio.filter(Boolean).length;
    for (const output of [this.stdout, this.stderr]) {
      if (!output) continue;
      this.closesNeeded += 1;
      output.once('close', () => this.maybeClose());
    }
  }

  /** The socket that is git's stdio stream number `stream` has connected. */
  attach(stream: number, socket: Socket): void {
    if (stream === 0 && this.stdin) {
      // git never writes here, but only reading sees its end-of-file and lets the socket close.
      socket.resume();
      this.stdinSocket = socket;
      this.feedStdin();
    } else if ((stream === 1 || stream === 2) && (stream === 1 ? this.stdout : this.stderr)) {
      const output = (stream === 1 ? this.stdout : this.stderr)!;
      // Like a ChildProcess stream, an output nobody reads still ends (and lets 'close' come)
      // when git wrote nothing to it.
      pipeline(socket, output, () => output.read(0));
    } else {
      socket.destroy();
    }
    this.socketsPending -= 1;
    this.maybeSettled();
  }

  started(pid: number): void {
    this.pid = pid;
    this.feedStdin();
  }

  exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.done) return;
    this.done = true;
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
    this.maybeClose();
    this.maybeSettled();
  }

  /** git never started, or its exit status is lost: the streams end and callers get the error. */
  failed(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.stdinSocket?.destroy();
    this.stdin?.destroy();
    this.stdout?.destroy();
    this.stderr?.destroy();
    // Its sockets, if any still come, find no owner and are closed.
    this.socketsPending = 0;
    this.maybeSettled();
    // A caller that only reads stdout (a blob) sees it end early; an unheard 'error' would throw
    // from the spawner's message handler and take the server down.
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.done) this.sendKill(signal);
  }

  /** Feeds stdin only once git runs, so no byte is ever in the spawner's hands. */
  private feedStdin(): void {
    if (!this.stdin || !this.stdinSocket || this.pid === undefined) return;
    // git exiting without reading all of stdin fails the writer (EPIPE), as with a pipe.
    pipeline(this.stdin, this.stdinSocket, () => {});
  }

  private maybeSettled(): void {
    if (this.done && this.socketsPending === 0) {
      this.socketsPending = -1;
      this.onSettled();
    }
  }

  private maybeClose(): void {
    this.closesNeeded -= 1;
    if (this.closesNeeded === 0) this.emit('close', this.exitCode, this.signalCode);
  }
}
