// What the scrape-time gauges read (wired in server/app.ts): plain functions, so the metrics
// code never reaches into services.

/** One job queue as the gauges see it. */
export interface QueueDepth {
  readonly name: string;
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  /** How long the oldest waiting job has waited; null when none waits. */
  readonly oldestWaitingMs: number | null;
}

export interface PoolUsage {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

export interface MetricSources {
  gitProcesses(): number;
  queueDepths(): Promise<readonly QueueDepth[]>;
  /** Runs not final yet (queued, running) by status. */
  runsByStatus(): Promise<Record<string, number>>;
  oldestQueuedRun(): Promise<Date | null>;
  notesConflicts(): number;
  dbPool(): PoolUsage | null;
}
