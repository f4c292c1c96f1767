// The recording Meter: prom-client series for everything meter.ts reports, plus the gauges read
// at scrape time (git processes, queue depths, runs by status, notes conflicts, database pool).
// Loaded only when MLGIT_METRICS is on (server/app.ts imports it lazily).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { HttpExchange, Meter } from './meter.ts';
import type { MetricSources, QueueDepth } from './metric-sources.ts';

const LFS_OBJECT_ROUTE = '/:owner/:repo/info/lfs/objects/:oid';
const LFS_BATCH_ROUTE = '/:owner/:repo/info/lfs/objects/batch';
/** Seconds: from a cached answer (ms) to a clone of a large repository (minutes). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Seconds: runs last from a second to hours. */
const RUN_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600];
/** Objects per LFS batch request (clients send up to 100 by default; the server allows more). */
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

export interface PrometheusMeter {
  readonly meter: Meter;
  readonly registry: Registry;
  /** Adds the gauges read at scrape time, once the services exist. */
  observe(sources: MetricSources): void;
}

export function createPrometheusMeter(): PrometheusMeter {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const httpRequests = new Counter({ name: 'mlgit_http_requests_total', help: 'HTTP requests by route pattern, method and status', labelNames: ['route', 'method', 'status'], registers });
  const httpSeconds = new Histogram({ name: 'mlgit_http_request_duration_seconds', help: 'HTTP request latency by route pattern and method', labelNames: ['route', 'method'], buckets: LATENCY_BUCKETS, registers });
  const gitOperations = new Counter({ name: 'mlgit_git_operations_total', help: 'git clones, fetches and pushes over smart HTTP, by HTTP status class', labelNames: ['operation', 'outcome'], registers });
  const gitSeconds = new Histogram({ name: 'mlgit_git_operation_duration_seconds', help: 'Duration of git clones, fetches and pushes', labelNames: ['operation'], buckets: LATENCY_BUCKETS, registers });
  const gitBytes = new Counter({ name: 'mlgit_git_bytes_total', help: 'Bytes of git operations on the wire (in: pushed packs, out: fetched packs)', labelNames: ['operation', 'direction'], registers });
  const gitSlotRefusals = new Counter({ name: 'mlgit_git_slot_refusals_total', help: 'git requests refused because all git slots of the repository or the client were taken', labelNames: ['scope'], registers });
  const lfsBytes = new Counter({ name: 'mlgit_lfs_bytes_total', help: 'LFS object bytes through the server (presigned S3 transfers bypass it)', labelNames: ['direction'], registers });
  const lfsBatchObjects = new Histogram({ name: 'mlgit_lfs_batch_objects', help: 'Objects per LFS batch request', labelNames: ['operation'], buckets: BATCH_BUCKETS, registers });
  const lfsBatchBytes = new Counter({ name: 'mlgit_lfs_batch_declared_bytes_total', help: 'Sum of the object sizes LFS batch requests declared', labelNames: ['operation'], registers });
  const webhookDeliveries = new Counter({ name: 'mlgit_webhook_deliveries_total', help: 'Webhook delivery attempts by result', labelNames: ['result'], registers });
  const runsFinished = new Counter({ name: 'mlgit_runs_finished_total', help: 'Runs that reached a final status, by job and status', labelNames: ['job', 'status'], registers });
  const runSeconds = new Histogram({ name: 'mlgit_run_duration_seconds', help: 'Run duration (started to finished) by job', labelNames: ['job', 'status'], buckets: RUN_BUCKETS, registers });

  const meter: Meter = {
    http(exchange: HttpExchange) {
      const { route, method, seconds } = exchange;
      httpRequests.inc({ route, method, status: String(exchange.status) });
      httpSeconds.observe({ route, method }, seconds);
      if (exchange.git) {
        const operation = exchange.git;
        gitOperations.inc({ operation, outcome: `${Math.floor(exchange.status / 100)}xx` });
        gitSeconds.observe({ operation }, seconds);
        gitBytes.inc({ operation, direction: 'in' }, exchange.bytesIn);
        gitBytes.inc({ operation, direction: 'out' }, exchange.bytesOut);
      }
      if (route === LFS_OBJECT_ROUTE && exchange.status < 300) {
        if (method === 'PUT') lfsBytes.inc({ direction: 'in' }, exchange.bytesIn);
        else if (method === 'GET') lfsBytes.inc({ direction: 'out' }, exchange.bytesOut);
      }
      if (route === LFS_BATCH_ROUTE && exchange.status === 200) observeBatch(exchange.body);
    },
    gitSlotRefused: (scope) => gitSlotRefusals.inc({ scope }),
    webhookDelivery: (result) => webhookDeliveries.inc({ result }),
    runFinished(job, status, seconds) {
      runsFinished.inc({ job, status });
      if (seconds !== null) runSeconds.observe({ job, status }, seconds);
    },
  };

  /** The request's own declaration (batch.md): operation and objects with their sizes; validated by the route before a 200. */
  function observeBatch(body: unknown): void {
    const { operation, objects } = (body ?? {}) as { operation?: unknown; objects?: unknown };
    if ((operation !== 'upload' && operation !== 'download') || !Array.isArray(objects)) return;
    lfsBatchObjects.observe({ operation }, objects.length);
    const declared = objects.reduce((sum: number, o: { size?: unknown }) => sum + (typeof o?.size === 'number' && o.size > 0 ? o.size : 0), 0);
    lfsBatchBytes.inc({ operation }, declared);
  }

  return { meter, registry, observe: (sources) => observeSources(registry, sources) };
}

/** Two gauges read the queue depths: one round trip to Redis per scrape, not two. */
const DEPTHS_REUSE_MS = 1000;

function observeSources(registry: Registry, sources: MetricSources): void {
  const registers = [registry];
  let depths: { at: number; value: Promise<readonly QueueDepth[]> } | null = null;
  const queueDepths = () => {
    if (!depths || Date.now() - depths.at > DEPTHS_REUSE_MS) depths = { at: Date.now(), value: sources.queueDepths() };
    return depths.value;
  };
  new Gauge({
    name: 'mlgit_git_processes',
    help: 'git processes running now (every git the server starts, through the spawner)',
    registers,
    collect() {
      this.set(sources.gitProcesses());
    },
  });
  new Gauge({
    name: 'mlgit_queue_jobs',
    help: 'Jobs in the job queue by queue and state',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      this.reset();
      for (const depth of await queueDepths()) {
        this.set({ queue: depth.name, state: 'waiting' }, depth.waiting);
        this.set({ queue: depth.name, state: 'active' }, depth.active);
        this.set({ queue: depth.name, state: 'delayed' }, depth.delayed);
      }
    },
  });
  new Gauge({
    name: 'mlgit_queue_oldest_waiting_seconds',
    help: 'Age of the oldest job waiting in each queue (0 when none waits)',
    labelNames: ['queue'],
    registers,
    async collect() {
      this.reset();
      for (const depth of await queueDepths()) this.set({ queue: depth.name }, depth.oldestWaitingMs === null ? 0 : depth.oldestWaitingMs / 1000);
    },
  });
  new Gauge({
    name: 'mlgit_runs',
    help: 'Runs not finished yet, by status (queued, running), all repositories',
    labelNames: ['status'],
    registers,
    async collect() {
      this.reset();
      for (const [status, count] of Object.entries(await sources.runsByStatus())) this.set({ status }, count);
    },
  });
  new Gauge({
    name: 'mlgit_runs_oldest_queued_seconds',
    help: 'Age of the oldest run waiting for a job slot (0 when none waits)',
    registers,
    async collect() {
      const oldest = await sources.oldestQueuedRun();
      this.set(oldest === null ? 0 : (Date.now() - oldest.getTime()) / 1000);
    },
  });
  new Counter({
    name: 'mlgit_notes_conflicts_total',
    help: 'Compare-and-swap conflicts of the notes writer (another writer moved refs/notes/mlproject first)',
    registers,
    collect() {
      this.reset();
      this.inc(sources.notesConflicts());
    },
  });
  new Gauge({
    name: 'mlgit_db_pool_connections',
    help: 'Postgres pool connections by state (absent with the embedded PGlite)',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      const pool = sources.dbPool();
      if (!pool) return;
      this.set({ state: 'total' }, pool.total);
      this.set({ state: 'idle' }, pool.idle);
      this.set({ state: 'waiting' }, pool.waiting);
    },
  });
}
