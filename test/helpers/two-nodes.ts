import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase } from './postgres.ts';
import { RunnerProcesses } from './runner-process.ts';
import { roundRobinProxy, type RoundRobinProxy } from './round-robin-proxy.ts';
import { startS3rver, S3RVER_BUCKET } from './s3rver.ts';
import { spawnServer, type ServerProcess } from './server-process.ts';

const REDIS_URL = process.env.MLGIT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** A loaded machine starts a node slowly. */
const START_MS = 180_000;

export const CLUSTER_ADMIN_PASSWORD = 'two-nodes-admin-pw';

/**
 * mlgit as several server nodes on one Postgres database, one Redis prefix and one S3 bucket,
 * sharing one data dir (repositories, secrets), behind a round-robin proxy, with `mlgit runner`
 * processes on BullMQ that talk to the proxy. Everything is torn down by `stop`.
 */
export interface Cluster {
  readonly proxy: RoundRobinProxy;
  readonly nodes: ServerProcess[];
  readonly dataDir: string;
  readonly env: Record<string, string>;
  startRunner(extra?: Record<string, string>): ChildProcess;
  stop(): Promise<void>;
}

export async function startCluster(options: { nodes: number; env?: Record<string, string> }): Promise<Cluster> {
  const database = await createTestDatabase();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-cluster-'));
  const s3 = await startS3rver(`${dataDir}-s3`);
  const proxy = await roundRobinProxy();
  const runnerToken = randomBytes(24).toString('hex');
  const prefix = `mlgit-cluster-${randomBytes(4).toString('hex')}`;
  const env: Record<string, string> = {
    MLGIT_DATA_DIR: dataDir,
    MLGIT_ADMIN_PASSWORD: CLUSTER_ADMIN_PASSWORD,
    DATABASE_URL: database.url,
    REDIS_URL,
    MLGIT_REDIS_PREFIX: prefix,
    S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
    S3_BUCKET: S3RVER_BUCKET,
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    MLGIT_PUBLIC_URL: proxy.url,
    MLGIT_RUNNER: 'off',
    MLGIT_RUNNER_TOKEN: runnerToken,
    ...options.env,
  };
  const nodes: ServerProcess[] = [];
  const runners = new RunnerProcesses();
  const stop = async () => {
    runners.killAll();
    for (const node of nodes) node.child.kill('SIGKILL');
    await Promise.all(nodes.map((node) => node.exited));
    await proxy.close();
    await s3.stop();
    await database.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
    await fs.rm(`${dataDir}-s3`, { recursive: true, force: true });
  };
  try {
    // One after another: the first applies the migrations, the others find them done.
    for (let i = 0; i < options.nodes; i++) nodes.push(await spawnServer(env, START_MS));
  } catch (err) {
    await stop();
    throw err;
  }
  proxy.setBackends(nodes.map((node) => node.url));
  return {
    proxy,
    nodes,
    dataDir,
    env,
    startRunner: (extra = {}) =>
      runners.start({
        REDIS_URL,
        MLGIT_REDIS_PREFIX: prefix,
        MLGIT_SERVER_URL: proxy.url,
        MLGIT_RUNNER_TOKEN: runnerToken,
        MLGIT_RUNTIME: 'process',
        MLGIT_RUNNER_HEARTBEAT_MS: '500',
        ...extra,
      }),
    stop,
  };
}
