/**
 * Webhook delivery and API latency under delivery load.
 *
 *   node --import tsx bench/webhooks.ts [--events 1000] [--repos 10000] [--rate 200] [--bullmq]
 *
 * mlgit runs in this process (buildApp, on a fresh Postgres database: BENCH_DATABASE_URL or the
 * local test server), the receiver and the API client each in a process of their own. It seeds
 * `--repos` repositories (rows inserted directly: only search is measured on them), adds one
 * hook to one repo, then:
 *   1. idle API latency: GET /api/v1/repos?q=<word> for a few seconds, nothing else running;
 *   2. paced: `--events` push events at `--rate`/s while the API client keeps searching —
 *      enqueue-to-delivered median/p99 and the API p99 under delivery load;
 *   3. burst: `--events` push events at once — throughput (deliveries/s).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { buildApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { createTestDatabase } from '../test/helpers/postgres.ts';
import { cleanupOnSignals, onCleanup, runBenchMain } from './lib/cleanup.ts';
import { parseKnobs } from './lib/options.ts';
import { median } from './lib/stats.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORDS = ['resnet', 'bert', 'llama', 'whisper', 'vit', 'yolo', 'diffusion', 'mnist', 'gpt', 'clip', 'unet', 'tabular', 'speech', 'vision', 'forecast'];
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const KNOBS = {
  events: { flag: 'events', env: 'BENCH_EVENTS', fallback: 1000, min: 1 },
  repos: { flag: 'repos', env: 'BENCH_REPOS', fallback: 10_000, min: 1 },
  rate: { flag: 'rate', env: 'BENCH_RATE', fallback: 200, min: 1 },
  idleSeconds: { flag: 'idle-seconds', env: 'BENCH_IDLE_SECONDS', fallback: 5, min: 1 },
};

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const ms = (v: number) => `${v.toFixed(1)} ms`;

function child(script: string, args: string[]): ChildProcess {
  const proc = fork(path.join(HERE, 'lib', script), args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  onCleanup(async () => {
    if (proc.exitCode === null) proc.kill();
  });
  return proc;
}

async function request<T>(proc: ChildProcess, message: string): Promise<T> {
  const reply = once(proc, 'message');
  proc.send(message);
  return (await reply)[0] as T;
}

async function main(): Promise<number> {
  cleanupOnSignals();
  const options = parseKnobs(process.argv.slice(2), process.env, KNOBS, { bullmq: { flag: 'bullmq', env: 'BENCH_BULLMQ' } });
  const database = await createTestDatabase();
  onCleanup(() => database.drop());
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mlgit-bench-hooks-'));
  onCleanup(() => rm(dataDir, { recursive: true, force: true }));
  const prefix = `mlgit-bench-${randomBytes(4).toString('hex')}`;
  const config = loadConfig(
    { MLGIT_DATA_DIR: dataDir, MLGIT_ADMIN_PASSWORD: 'bench-admin-password', MLGIT_LOG_LEVEL: 'warn', MLGIT_WEBHOOK_ALLOW: '127.0.0.1' },
    { databaseUrl: database.url, host: '127.0.0.1', port: 0, ...(options.bullmq ? { redisUrl: REDIS_URL, redisPrefix: prefix } : {}) },
  );
  const { app, services } = await buildApp(config);
  onCleanup(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const admin = await services.accounts.findUser('admin');

  process.stdout.write(`seeding ${options.repos} repositories...\n`);
  for (let start = 0; start < options.repos; start += 1000) {
    const rows = Array.from({ length: Math.min(1000, options.repos - start) }, (_, k) => {
      const i = start + k;
      return { owner_id: admin.id, name: `${WORDS[i % WORDS.length]}-${i}`, description: `${WORDS[(i * 7) % WORDS.length]} model number ${i}` };
    });
    await services.db.insertInto('repos').values(rows).execute();
  }
  await sql`analyze repos`.execute(services.db);
  const principal = { user: admin, scopes: new Set(['read', 'write', 'admin'] as const), via: 'password' as const };
  const repo = await services.repos.create(principal, { name: 'hooked' });

  const sink = child('webhook-sink.ts', []);
  const [portLine] = (await once(sink.stdout!, 'data')) as [Buffer];
  const sinkUrl = `http://127.0.0.1:${portLine.toString().trim()}/hook`;
  await services.webhooks.create(principal, 'admin', 'hooked', { url: sinkUrl, secret: 'bench-secret', events: ['push'] });
  await services.queue.drain();
  await request(sink, 'report'); // drop the ping

  const probe = async (during: () => Promise<void>) => {
    const prober = child('api-prober.ts', [`http://127.0.0.1:${port}/api/v1/repos`, ...WORDS]);
    await during();
    return request<{ latencies: number[]; errors: number }>(prober, 'stop');
  };

  const pushPayload = (i: number) => ({
    ref: 'refs/heads/main',
    before: randomBytes(20).toString('hex'),
    after: randomBytes(20).toString('hex'),
    commits: [{ id: randomBytes(20).toString('hex'), message: `commit ${i}`, author: { name: 'Bench', email: 'bench@example.com' }, url: 'http://x' }],
    pusher: { name: 'admin', email: null },
    bench_emitted_at: performance.timeOrigin + performance.now(),
  });

  /** paceMs 0: every event emitted at once (as many concurrent post-receives would). */
  const deliverAll = async (paceMs: number) => {
    const started = performance.now();
    if (paceMs === 0) {
      await Promise.all(Array.from({ length: options.events }, (_, i) => services.webhooks.emit(repo.id, 'push', pushPayload(i), admin.id)));
    }
    for (let i = 0; paceMs > 0 && i < options.events; i++) {
      await services.webhooks.emit(repo.id, 'push', pushPayload(i), admin.id);
      const wait = started + (i + 1) * paceMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await services.queue.drain();
    return request<{ latencies: number[]; duplicates: number; first: number; last: number }>(sink, 'report');
  };

  process.stdout.write(`idle API latency (${options.idleSeconds} s)...\n`);
  const idle = await probe(() => new Promise((resolve) => setTimeout(resolve, options.idleSeconds * 1000)));

  process.stdout.write(`paced: ${options.events} push events at ${options.rate}/s with API searches running...\n`);
  let paced: Awaited<ReturnType<typeof deliverAll>> | null = null;
  const loaded = await probe(async () => {
    paced = await deliverAll(1000 / options.rate);
  });

  process.stdout.write(`burst: ${options.events} push events at once...\n`);
  const burstStart = performance.timeOrigin + performance.now();
  const burst = await deliverAll(0);
  const burstSeconds = (burst.last - burstStart) / 1000;

  const p = paced!;
  const rows: [string, string][] = [
    ['queue', options.bullmq ? 'BullMQ on Redis' : 'in-process'],
    ['repositories', String(options.repos + 1)],
    ['paced deliveries (received / sent)', `${p.latencies.length} / ${options.events}, ${p.duplicates} duplicate ids`],
    ['paced enqueue-to-delivered median', ms(median(p.latencies))],
    ['paced enqueue-to-delivered p99', ms(percentile(p.latencies, 99))],
    ['burst deliveries (received / sent)', `${burst.latencies.length} / ${options.events}, ${burst.duplicates} duplicate ids`],
    ['burst enqueue-to-delivered median', ms(median(burst.latencies))],
    ['burst enqueue-to-delivered p99', ms(percentile(burst.latencies, 99))],
    ['burst throughput', `${(burst.latencies.length / burstSeconds).toFixed(0)} deliveries/s`],
    ['GET /api/v1/repos?q= idle: requests, median, p99', `${idle.latencies.length}, ${ms(median(idle.latencies))}, ${ms(percentile(idle.latencies, 99))}`],
    ['GET /api/v1/repos?q= during deliveries: requests, median, p99', `${loaded.latencies.length}, ${ms(median(loaded.latencies))}, ${ms(percentile(loaded.latencies, 99))}`],
    ['API errors', String(idle.errors + loaded.errors)],
  ];
  for (const [label, value] of rows) process.stdout.write(`${label.padEnd(62)} ${value}\n`);
  sink.send('stop');
  const lost = options.events * 2 - p.latencies.length - burst.latencies.length;
  return lost === 0 && p.duplicates + burst.duplicates === 0 && idle.errors + loaded.errors === 0 ? 0 : 1;
}

await runBenchMain('bench:webhooks', main);
