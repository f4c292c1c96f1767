/**
 * Scaling out (issue 13, "Quality bars"), on the production shape: `mlgit serve` nodes on one
 * Postgres, one Redis and one S3 bucket (s3rver) sharing a data dir, behind a round-robin proxy
 * (test/helpers/two-nodes.ts), with `mlgit runner` processes (process runtime) on BullMQ.
 *
 *  (a) push-to-train throughput with 1, 2 and 4 runner processes (one job slot each) on one Redis:
 *      one push of N short jobs (a matrix of `true`), from `git push` to the last run final;
 *      jobs/s and the scaling factor against 1 runner.
 *  (b) clone throughput: C concurrent `git clone --bare` of a generated repository, R rounds,
 *      through the proxy with one node behind it and with two; clones/s and the ratio.
 *
 *   node --import tsx bench/scale.ts [--jobs 100] [--clones 8] [--rounds 5] [--size-mb 20]
 *
 * Needs Postgres (MLGIT_TEST_POSTGRES_URL, default 127.0.0.1:5432) and Redis (MLGIT_TEST_REDIS_URL).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLUSTER_ADMIN_PASSWORD, startCluster, type Cluster } from '../test/helpers/two-nodes.ts';
import { onCleanup, runBenchMain } from './lib/cleanup.ts';
import { cloneBatch } from './lib/clones.ts';
import { isolatedGitEnv } from './lib/git-env.ts';
import { parseKnobs, type Knob } from './lib/options.ts';
import { runChecked } from './lib/run.ts';
import { FINAL_STATUSES, type RunSummary } from './lib/run-summary.ts';

const KNOBS = {
  jobs: { flag: 'jobs', env: 'BENCH_SCALE_JOBS', fallback: 100, min: 1 },
  clones: { flag: 'clones', env: 'BENCH_SCALE_CLONES', fallback: 8, min: 1 },
  rounds: { flag: 'rounds', env: 'BENCH_SCALE_ROUNDS', fallback: 5, min: 1 },
  sizeMb: { flag: 'size-mb', env: 'BENCH_SCALE_SIZE_MB', fallback: 20, min: 1 },
} as const satisfies Record<string, Knob>;
const RUNNER_COUNTS = [1, 2, 4];
const AUTH = `Basic ${Buffer.from(`admin:${CLUSTER_ADMIN_PASSWORD}`).toString('base64')}`;
const POLL_MS = 100;

async function api(cluster: Cluster, method: string, url: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${cluster.proxy.url}${url}`, { method, headers: { authorization: AUTH, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** A work tree with `files` committed, its remote the repo `name` (created) through the proxy. */
async function project(cluster: Cluster, env: NodeJS.ProcessEnv, scratch: string, name: string, files: Record<string, string | Buffer>): Promise<{ dir: string; remote: string }> {
  await api(cluster, 'POST', '/api/v1/repos', { name });
  const dir = path.join(scratch, name);
  const git = (...args: string[]) => runChecked('git', args, { cwd: dir, env });
  await runChecked('git', ['init', '-q', '-b', 'main', dir], { env });
  for (const [file, content] of Object.entries(files)) await writeFile(path.join(dir, file), content);
  await git('add', '-A');
  await git('-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'commit', '-q', '-m', name);
  return { dir, remote: `${cluster.proxy.url.replace('http://', `http://admin:${CLUSTER_ADMIN_PASSWORD}@`)}/admin/${name}.git` };
}

async function stopRunners(runners: ChildProcess[]): Promise<void> {
  await Promise.all(runners.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : (child.once('exit', resolve), child.kill('SIGTERM'))))));
}

/** (a) One push of `jobs` short jobs with `count` runner processes; jobs per second from push to the last run final. */
async function throughput(cluster: Cluster, env: NodeJS.ProcessEnv, scratch: string, jobs: number, count: number): Promise<number> {
  // Matrices of at most 50 (manifests cap one matrix at 64).
  const shards = Array.from({ length: Math.ceil(jobs / 50) }, (_, shard) => {
    const values = Array.from({ length: Math.min(50, jobs - shard * 50) }, (_, i) => i).join(', ');
    return `  shard${shard}:\n    kind: custom\n    command: "true"\n    matrix: {i: [${values}]}\n`;
  });
  const manifest = `version: 1\nname: scale\nimage: localhost/mlgit-python:bookworm\ncache: false\njobs:\n${shards.join('')}`;
  const { dir, remote } = await project(cluster, env, scratch, `scale-${count}`, { 'mlproject.yaml': manifest });
  const runners = Array.from({ length: count }, () => cluster.startRunner({ MLGIT_RUNNER_CONCURRENCY: '1' }));
  try {
    const started = Date.now();
    await runChecked('git', ['push', '-q', remote, 'main'], { cwd: dir, env });
    const sha = (await runChecked('git', ['rev-parse', 'HEAD'], { cwd: dir, env })).stdout.trim();
    for (;;) {
      const runs = (await api(cluster, 'GET', `/api/v1/repos/admin/scale-${count}/runs?commit=${sha}&per_page=100&page=1`)) as RunSummary[];
      const more = jobs > 100 ? ((await api(cluster, 'GET', `/api/v1/repos/admin/scale-${count}/runs?commit=${sha}&per_page=100&page=2`)) as RunSummary[]) : [];
      const all = [...runs, ...more];
      if (all.length === jobs && all.every((run) => FINAL_STATUSES.includes(run.status))) {
        const failed = all.filter((run) => run.status !== 'success');
        if (failed.length > 0) throw new Error(`${failed.length} runs did not succeed, e.g. ${failed[0]!.status}: ${failed[0]!.message}`);
        return jobs / ((Date.now() - started) / 1000);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    await stopRunners(runners);
  }
}

/** (b) `rounds` batches of `clones` concurrent clones through the proxy; clones per second. */
async function cloneRate(cluster: Cluster, env: NodeJS.ProcessEnv, scratch: string, url: string, clones: number, rounds: number): Promise<number> {
  let seconds = 0;
  await cloneBatch({ env, scratchDir: scratch }, url, 1); // warm-up: page cache, JIT
  for (let round = 0; round < rounds; round++) {
    const batch = await cloneBatch({ env, scratchDir: scratch }, url, clones);
    if (batch.failures > 0) throw new Error(`${batch.failures} clones failed: ${batch.firstError}`);
    seconds += batch.seconds;
  }
  return (clones * rounds) / seconds;
}

async function main(): Promise<number> {
  const options = parseKnobs(process.argv.slice(2), process.env, KNOBS, {});
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mlgit-bench-scale-'));
  onCleanup(() => rm(scratch, { recursive: true, force: true }));
  const env = await isolatedGitEnv(scratch);
  const queueRoom = String(Math.max(100, options.jobs));
  const cluster = await startCluster({
    nodes: 2,
    env: { MLGIT_RUN_MAX_PER_PUSH: queueRoom, MLGIT_RUN_MAX_QUEUED_PER_REPO: queueRoom, MLGIT_RUN_MAX_QUEUED_PER_OWNER: queueRoom, MLGIT_RUN_QUEUE_WINDOW: queueRoom },
  });
  onCleanup(() => cluster.stop());
  console.log(`cluster: 2 nodes behind a round-robin proxy, Postgres, Redis, s3rver; ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`);

  const rates: number[] = [];
  for (const count of RUNNER_COUNTS) {
    const rate = await throughput(cluster, env, scratch, options.jobs, count);
    rates.push(rate);
    console.log(`(a) ${options.jobs} jobs, ${count} runner process(es): ${rate.toFixed(2)} jobs/s; scaling factor ${(rate / rates[0]!).toFixed(2)} (ideal ${count})`);
  }

  // A repository of incompressible files, so a clone moves about size-mb over the wire.
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < options.sizeMb; i++) files[`blob-${i}.bin`] = randomBytes(1024 * 1024);
  const { dir, remote } = await project(cluster, env, scratch, 'clone-me', files);
  await runChecked('git', ['push', '-q', remote, 'main'], { cwd: dir, env });
  const url = `${cluster.proxy.url}/admin/clone-me.git`;
  const [nodeA] = cluster.nodes;
  cluster.proxy.setBackends([nodeA!.url]);
  const one = await cloneRate(cluster, env, scratch, url, options.clones, options.rounds);
  cluster.proxy.setBackends(cluster.nodes.map((node) => node.url));
  const two = await cloneRate(cluster, env, scratch, url, options.clones, options.rounds);
  console.log(`(b) clones of ${options.sizeMb} MB, ${options.clones} at once x ${options.rounds}: one node ${one.toFixed(2)} clones/s, two nodes ${two.toFixed(2)} clones/s; ratio ${(two / one).toFixed(2)} (ideal 2 on machines with room for both)`);
  return 0;
}

await runBenchMain('bench:scale', main);
