import { Queue, UnrecoverableError, Worker, type JobType } from 'bullmq';
import type { JobQueue } from '../../domain/ports.ts';
import type { QueueDepth } from '../../observability/metric-sources.ts';

type Handler = (data: unknown) => Promise<void>;

export interface BullMqQueueOptions {
  readonly redisUrl: string;
  /** Key prefix of every queue (BullMQ's `prefix`): one per deployment, one per test. */
  readonly prefix: string;
  /** A job failed for the last time, or a queue/worker lost Redis. */
  readonly onError: (name: string, err: unknown) => void;
}

/**
 * Retries are the worker's business in the port (`process(..., { attempts })`) but the job's in
 * BullMQ, and the enqueuing process (the server) is often not the processing one (a runner).
 * So every job may be retried up to this ceiling and the worker stops earlier with
 * UnrecoverableError once its own `attempts` are used up.
 */
const JOB_ATTEMPTS_CEILING = 25;
const BACKOFF = { type: 'exponential', delay: 100 } as const;
/** Failed jobs are kept a day for inspection; completed ones are not needed by anyone. */
const KEEP_FAILED_SECONDS = 24 * 3600;
const PENDING: JobType[] = ['waiting', 'prioritized', 'delayed', 'active', 'waiting-children'];
const DRAIN_POLL_MS = 25;
/** A queue that never holds jobs: its connection answers readiness pings. */
const PING_QUEUE = 'mlgit.ping';

/** The production JobQueue: BullMQ on Redis, one BullMQ queue per job name. */
export class BullMqQueue implements JobQueue {
  private readonly queues = new Map<string, Queue>();
  private readonly workers = new Map<string, Worker>();
  private closed = false;

  constructor(private readonly options: BullMqQueueOptions) {}

  async enqueue(name: string, data: unknown, options: { jobId?: string; delayMs?: number } = {}): Promise<void> {
    if (this.closed) throw new Error('queue is closed');
    await this.queue(name).add(name, data, {
      attempts: JOB_ATTEMPTS_CEILING,
      backoff: BACKOFF,
      delay: options.delayMs,
      removeOnComplete: true,
      removeOnFail: { age: KEEP_FAILED_SECONDS },
      // Deduplication rather than a fixed BullMQ jobId: a jobId would also swallow enqueues
      // while the job runs (and after it, while a finished job is kept). keepLastIfActive
      // makes an enqueue during the run a new job that starts when the running one ends.
      deduplication: options.jobId === undefined ? undefined : { id: options.jobId, keepLastIfActive: true },
    });
  }

  process(name: string, handler: Handler, options: { concurrency?: number; attempts?: number } = {}): void {
    if (this.closed) throw new Error('queue is closed');
    if (this.workers.has(name)) throw new Error(`a handler for ${name} is already registered`);
    const attempts = Math.min(options.attempts ?? 3, JOB_ATTEMPTS_CEILING);
    this.queue(name); // drain() counts jobs through the Queue of every name processed here
    const worker = new Worker(
      name,
      async (job) => {
        try {
          await handler(job.data);
        } catch (err) {
          if (job.attemptsMade + 1 < attempts) throw err;
          // Reported before the job leaves "active", so drain() never resolves ahead of it.
          this.options.onError(name, err);
          throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
        }
      },
      // Workers block on Redis, so BullMQ wants them never to give up on a command.
      { connection: { url: this.options.redisUrl, maxRetriesPerRequest: null }, prefix: this.options.prefix, concurrency: options.concurrency ?? 1 },
    );
    worker.on('error', (err) => this.options.onError(name, err));
    this.workers.set(name, worker);
  }

  /** A round trip on a connection of its own; a Redis that is down leaves it unanswered, hence the timeout. */
  async reachable(timeoutMs: number): Promise<boolean> {
    if (this.closed) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, timeoutMs, false)));
    const ping = this.queue(PING_QUEUE)
      .count()
      .then(
        () => true,
        () => false,
      );
    try {
      return await Promise.race([ping, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits for the names that have a handler in this process only: jobs for other processes
   * (runners) must not hold up this one's shutdown, as in the in-process queue.
   */
  async drain(): Promise<void> {
    for (;;) {
      const counts = await Promise.all([...this.workers.keys()].map((name) => this.queue(name).getJobCounts(...PENDING)));
      if (counts.every((byType) => Object.values(byType).every((n) => n === 0))) return;
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }

  /** Jobs per state of every queue this process uses, and the age of each one's oldest waiting job (metrics). */
  async depths(): Promise<QueueDepth[]> {
    const names = [...this.queues.keys()].filter((name) => name !== PING_QUEUE);
    return Promise.all(
      names.map(async (name) => {
        const queue = this.queue(name);
        const [counts, [oldest]] = await Promise.all([queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed'), queue.getJobs(['waiting', 'prioritized'], 0, 0, true)]);
        return {
          name,
          waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
          active: counts.active ?? 0,
          delayed: counts.delayed ?? 0,
          oldestWaitingMs: oldest ? Math.max(0, Date.now() - oldest.timestamp - (oldest.delay ?? 0)) : null,
        };
      }),
    );
  }

  /** Lets running jobs finish (Worker.close waits for them); each Queue/Worker owns its connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.workers.values()].map((worker) => worker.close()));
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: { url: this.options.redisUrl }, prefix: this.options.prefix });
      queue.on('error', (err) => this.options.onError(name, err));
      this.queues.set(name, queue);
    }
    return queue;
  }
}
