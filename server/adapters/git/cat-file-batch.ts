import { gitEnv, spawnGit } from './run-git.ts';
import type { GitChild } from './spawned-git.ts';

/** What `git cat-file --batch-command` says about one object name. */
export interface BatchObject {
  readonly oid: string;
  readonly type: string;
  readonly size: number;
  /** Set for `contents` requests. */
  readonly content?: Buffer;
}

interface Pending {
  readonly withContent: boolean;
  readonly resolve: (object: BatchObject | null) => void;
  readonly reject: (err: Error) => void;
}

/** A process serves this many requests, then the next request starts a fresh one (bounded memory in git). */
const MAX_REQUESTS = 10_000;
const IDLE_MS = 60_000;

/**
 * One long-lived `git cat-file --batch-command` of a repository: object lookups (`info`) and
 * small reads (`contents`) answered over a pipe in well under a millisecond, instead of a git
 * process each (40-200 ms to spawn from a big server process on these machines). Requests are
 * answered in order; a name git cannot resolve (missing, ambiguous) answers null.
 */
export class CatFileBatch {
  private readonly child: GitChild;
  private readonly queue: Pending[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  private requests = 0;
  private dead = false;

  /** `env` adds to gitEnv(): a push's quarantine, so its objects are readable before they land. */
  constructor(cwd: string, env: Record<string, string>, onExit: () => void) {
    this.child = spawnGit(['cat-file', '--batch-command'], { cwd, env: gitEnv(env), stdio: [true, true, false] });
    this.child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (err: Error) => {
      this.dead = true;
      for (const pending of this.queue.splice(0)) pending.reject(err);
      onExit();
    };
    this.child.on('error', fail);
    this.child.on('close', () => fail(new Error('git cat-file exited')));
    this.child.stdin!.on('error', () => {});
  }

  get usable(): boolean {
    return !this.dead && this.requests < MAX_REQUESTS;
  }

  ask(name: string, withContent: boolean): Promise<BatchObject | null> {
    // A newline would start another command: such names are never valid object names anyway.
    if (name.includes('\n') || name.includes('\0')) return Promise.resolve(null);
    if (this.dead) return Promise.reject(new Error('git cat-file has exited'));
    this.requests++;
    return new Promise((resolve, reject) => {
      this.queue.push({ withContent, resolve, reject });
      this.child.stdin!.write(`${withContent ? 'contents' : 'info'} ${name}\n`);
    });
  }

  close(): void {
    this.dead = true;
    this.child.stdin!.end();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.queue.length > 0) {
      const newline = this.buffer.indexOf(0x0a);
      if (newline < 0) return;
      const header = this.buffer.toString('utf8', 0, newline);
      const [oid = '', type = '', size = ''] = header.split(' ');
      const pending = this.queue[0]!;
      // "<name> missing" or "<name> ambiguous": no object.
      if (type === 'missing' || type === 'ambiguous' || size === '') {
        this.buffer = this.buffer.subarray(newline + 1);
        this.queue.shift();
        pending.resolve(null);
        continue;
      }
      const bytes = Number(size);
      if (!pending.withContent) {
        this.buffer = this.buffer.subarray(newline + 1);
        this.queue.shift();
        pending.resolve({ oid, type, size: bytes });
        continue;
      }
      const end = newline + 1 + bytes;
      if (this.buffer.length < end + 1) return;
      const content = Buffer.from(this.buffer.subarray(newline + 1, end));
      this.buffer = this.buffer.subarray(end + 1);
      this.queue.shift();
      pending.resolve({ oid, type, size: bytes, content });
    }
  }
}

/** One batch process per recently used repository (at most `max`, the least recently used closed first). */
export class CatFilePool {
  private readonly processes = new Map<string, { batch: CatFileBatch; timer: NodeJS.Timeout }>();

  constructor(private readonly max = 16) {}

  info(cwd: string, name: string): Promise<BatchObject | null> {
    return this.process(cwd).ask(name, false);
  }

  /** The object and its bytes: only for objects known to be small (the caller checked `info`). */
  contents(cwd: string, name: string): Promise<BatchObject | null> {
    return this.process(cwd).ask(name, true);
  }

  closeAll(): void {
    for (const cwd of [...this.processes.keys()]) this.drop(cwd);
  }

  private process(cwd: string): CatFileBatch {
    const held = this.processes.get(cwd);
    if (held?.batch.usable) {
      this.processes.delete(cwd);
      held.timer.refresh();
      this.processes.set(cwd, held);
      return held.batch;
    }
    if (held) this.drop(cwd);
    if (this.processes.size >= this.max) this.drop(this.processes.keys().next().value!);
    const batch = new CatFileBatch(cwd, {}, () => {
      if (this.processes.get(cwd)?.batch === batch) this.drop(cwd);
    });
    const timer = setTimeout(() => this.drop(cwd), IDLE_MS);
    timer.unref();
    this.processes.set(cwd, { batch, timer });
    return batch;
  }

  private drop(cwd: string): void {
    const held = this.processes.get(cwd);
    if (!held) return;
    this.processes.delete(cwd);
    clearTimeout(held.timer);
    held.batch.close();
  }
}
