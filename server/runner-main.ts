// `mlgit runner`: a runner process of its own (production). It takes run messages from BullMQ and
// talks to the server only over HTTP, so it can live on any machine that reaches both.
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Runner, defaultRunnerName } from '../runner/runner.ts';
import { createRuntime, describeSandbox } from '../runner/runtime/index.ts';
import { BullMqQueue } from './adapters/queue/bullmq-queue.ts';
import type { Config } from './config.ts';
import { RUN_JOB } from './domain/runs/scheduler.ts';
import { loggerOptions } from './logger.ts';

export async function runRunner(config: Config, say: (line: string) => void): Promise<number> {
  const { runs } = config;
  const missing = [
    !config.redisUrl && 'REDIS_URL (runners take jobs from BullMQ; the embedded server runs jobs itself)',
    !runs.serverUrl && 'MLGIT_SERVER_URL (the mlgit server as this runner reaches it)',
    !runs.runnerToken && 'MLGIT_RUNNER_TOKEN (the same value the server has)',
  ].filter(Boolean);
  if (missing.length) {
    say(`mlgit runner needs: ${missing.join('; ')}`);
    return 2;
  }
  const log = pino(loggerOptions(config.logLevel) as pino.LoggerOptions);
  // The SDK is loaded only when tracing is on: the runner's job spans join the server's traces.
  const tracing = config.tracing === 'otlp' ? await import('./observability/tracing-sdk.ts') : null;
  tracing?.startTracing('mlgit-runner');
  const queue = new BullMqQueue({ redisUrl: config.redisUrl!, prefix: config.redisPrefix, onError: (name, err) => log.error({ err, job: name }, 'job queue error') });
  const runtimeConfig = { kind: runs.runtime, dockerSocket: runs.dockerSocket, unsafeNoSandbox: runs.unsafeNoSandbox, kubernetes: runs.kubernetes };
  const runtime = createRuntime(runtimeConfig);
  const name = defaultRunnerName();
  const runner = new Runner({
    serverUrl: () => runs.serverUrl!,
    token: runs.runnerToken!,
    name,
    workDir: runs.runnerWorkDir ?? path.join(os.tmpdir(), 'mlgit-runner'),
    runtime,
    heartbeatMs: runs.heartbeatMs,
    stallTimeoutMs: runs.stallTimeoutMs,
    log,
  });
  queue.process(RUN_JOB, (data) => runner.handle(data), { concurrency: runs.runnerConcurrency, attempts: 5 });
  log.info({ runner: name, runtime: runtime.name, concurrency: runs.runnerConcurrency }, 'runner started');
  const sandbox = describeSandbox(runtimeConfig);
  log[sandbox.ok ? 'info' : 'error']({ runtime: runtime.name }, sandbox.summary);
  for (const warning of runtime.warnings) log.warn({ runtime: runtime.name }, warning);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info('runner stopping: letting running jobs finish');
  await queue.close();
  await runtime.close();
  await tracing?.flushTracing();
  return 0;
}
