import type { JobQueue } from '../../domain/ports.ts';
import type { QueueDepth } from '../../observability/metric-sources.ts';

type Handler = (data: unknown) => Promise<void>;

interface PendingJob {
  name: string;
  data: unknown;
  jobId: string | null;
  attempt: number;
  /** When it became ready to run (its delay over), for the metrics' queue age. */
  waitingSince?: number;
}

/**
 * The embedded default's JobQueue: jobs live in memory and run in this process. Same contract
 * as the BullMQ adapter (coalescing by jobId, delays, retries with backoff), minus durability.
 */
export class InProcessQueue implements JobQueue {
  private readonly handlers = new Map<string, { handler: Handler; concurrency: number; attempts: number; running: number }>();
  private readonly waiting: PendingJob[] = [];
  private readonly waitingIds = new Set<string>();
  private readonly delayed = new Map<NodeJS.Timeout, PendingJob>();
  private idleWaiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly onError: (name: string, err: unknown) => void = () => {}) {}

  async enqueue(name: string, data: unknown, options: { jobId?: string; delayMs?: number } = {}): Promise<void> {
    if (this.closed) throw new Error('queue is closed');
    const jobId = options.jobId ?? null;
    if (jobId !== null) {
      if (this.waitingIds.has(jobId)) return;
      this.waitingIds.add(jobId);
    }
    this.schedule({ name, data, jobId, attempt: 1 }, options.delayMs ?? 0);
  }

  process(name: string, handler: Handler, options: { concurrency?: number; attempts?: number } = {}): void {
    if (this.closed) throw new Error('queue is closed');
    // Two handlers for one name would silently double its concurrency (and BullMQ refuses it too).
    if (this.handlers.has(name)) throw new Error(`a handler for ${name} is already registered`);
    this.handlers.set(name, { handler, concurrency: options.concurrency ?? 1, attempts: options.attempts ?? 3, running: 0 });
    this.pump();
  }

  private schedule(job: PendingJob, delayMs: number): void {
    const timer = setTimeout(() => {
      this.delayed.delete(timer);
      this.waiting.push({ ...job, waitingSince: Date.now() });
      this.pump();
    }, delayMs);
    this.delayed.set(timer, job);
  }

  private pump(): void {
    // After close() nothing new starts; jobs still waiting are dropped with the process.
    for (let i = 0; i < this.waiting.length && !this.closed; ) {
      const job = this.waiting[i]!;
      const worker = this.handlers.get(job.name);
      if (!worker || worker.running >= worker.concurrency) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      // Once a job starts, a new enqueue with its id is new work and must not be dropped.
      if (job.jobId !== null) this.waitingIds.delete(job.jobId);
      worker.running++;
      worker
        .handler(job.data)
        .catch((err) => {
          if (job.attempt < worker.attempts && !this.closed) {
            this.schedule({ ...job, jobId: null, attempt: job.attempt + 1 }, 100 * 2 ** (job.attempt - 1));
          } else {
            this.onError(job.name, err);
          }
        })
        .finally(() => {
          worker.running--;
          this.pump();
        });
    }
    this.notifyIdle();
  }

  /**
   * Idle means nothing runs and nothing is waiting or delayed for a name with a handler here.
   * Jobs nobody here processes do not count: with BullMQ they belong to other processes.
   */
  private idle(): boolean {
    if (this.handlersRunning() > 0) return false;
    const pending = [...this.waiting, ...this.delayed.values()];
    return this.closed || !pending.some((job) => this.handlers.has(job.name));
  }

  private notifyIdle(): void {
    if (!this.idle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Jobs per state of every job name seen here, and how long each name's oldest waiting job has waited (metrics). */
  async depths(): Promise<QueueDepth[]> {
    const names = new Set([...this.handlers.keys(), ...this.waiting.map((job) => job.name), ...[...this.delayed.values()].map((job) => job.name)]);
    const now = Date.now();
    return [...names].map((name) => {
      const waiting = this.waiting.filter((job) => job.name === name);
      return {
        name,
        waiting: waiting.length,
        active: this.handlers.get(name)?.running ?? 0,
        delayed: [...this.delayed.values()].filter((job) => job.name === name).length,
        oldestWaitingMs: waiting.length === 0 ? null : now - Math.min(...waiting.map((job) => job.waitingSince ?? now)),
      };
    });
  }

  async reachable(): Promise<boolean> {
    return !this.closed;
  }

  drain(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.notifyIdle();
    });
  }

  /** Stops timers and starts nothing new, then waits for running handlers to finish. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.delayed.keys()) clearTimeout(timer);
    this.delayed.clear();
    await new Promise<void>((resolve) => {
      const check = () => (this.handlersRunning() === 0 ? resolve() : setTimeout(check, 20));
      check();
    });
    this.notifyIdle();
  }

  private handlersRunning(): number {
    let running = 0;
    for (const worker of this.handlers.values()) running += worker.running;
    return running;
  }
}
