import type { JobQueue } from '../../domain/ports.ts';

type Handler = (data: unknown) => Promise<void>;

interface PendingJob {
  name: string;
  data: unknown;
  jobId: string | null;
  attempt: number;
}

/**
 * The embedded default's JobQueue: jobs live in memory and run in this process. Same contract
 * as the BullMQ adapter (coalescing by jobId, delays, retries with backoff), minus durability.
 */
export class InProcessQueue implements JobQueue {
  private readonly handlers = new Map<string, { handler: Handler; concurrency: number; attempts: number; running: number }>();
  private readonly waiting: PendingJob[] = [];
  private readonly waitingIds = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private active = 0;
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
    this.handlers.set(name, { handler, concurrency: options.concurrency ?? 1, attempts: options.attempts ?? 3, running: 0 });
    this.pump();
  }

  private schedule(job: PendingJob, delayMs: number): void {
    this.active++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.active--;
      this.waiting.push(job);
      this.pump();
    }, delayMs);
    this.timers.add(timer);
  }

  private pump(): void {
    for (let i = 0; i < this.waiting.length; ) {
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
      this.active++;
      worker
        .handler(job.data)
        .catch((err) => {
          if (job.attempt < worker.attempts && !this.closed) {
            this.schedule({ ...job, jobId: null, attempt: job.attempt + 1 }, 100 * 2 ** job.attempt);
          } else {
            this.onError(job.name, err);
          }
        })
        .finally(() => {
          worker.running--;
          this.active--;
          this.pump();
          this.notifyIdle();
        });
    }
    this.notifyIdle();
  }

  private notifyIdle(): void {
    const runnable = this.waiting.some((job) => this.handlers.has(job.name));
    if (this.active === 0 && !runnable) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  drain(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.notifyIdle();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await new Promise<void>((resolve) => {
      const check = () => (this.handlersRunning() === 0 ? resolve() : setTimeout(check, 20));
      check();
    });
  }

  private handlersRunning(): number {
    let running = 0;
    for (const worker of this.handlers.values()) running += worker.running;
    return running;
  }
}
