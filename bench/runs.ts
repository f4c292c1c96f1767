/**
 * Push-to-train benchmarks (issue 4, "Quality bars", bench (a), (b) and (d)), against a real mlgit
 * process (`mlgit serve`, BullMQ on Redis, embedded runner) and the real git client:
 *
 *  (a) push-to-running latency: from `git push` returning to the job's first instruction in its
 *      container (the job prints `date +%s%N`), median over N pushes; target < 1 s with BullMQ.
 *  (b) runner overhead: a job whose command is `true`, full cycle from `git push` returning to the
 *      note of its commit being updated (enqueue, claim, workspace, container, report, note);
 *      median, target < 1.5 s, side by side with `podman run --rm <image> true` on the same engine.
 *  (d) 50 jobs (a matrix) finishing together on one commit: the note converges with all 50 lines;
 *      time from the last completion to the converged note.
 *
 *   node --import tsx bench/runs.ts [--pushes 20] [--matrix 50] [--runtime-process]
 *
 * The docker runtime (Podman's Docker Engine API, started by scripts/podman-setup.sh) is used
 * unless --runtime-process is given. BENCH_DATABASE_URL selects Postgres (default: embedded PGlite);
 * REDIS_URL (default redis://127.0.0.1:6379) the BullMQ Redis.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupOnSignals, onCleanup, runBenchMain } from './lib/cleanup.ts';
import { freePort } from './lib/free-port.ts';
import { isolatedGitEnv } from './lib/git-env.ts';
import { withIdentity } from './lib/lfs-repo.ts';
import { basicAuth, BENCH_ADMIN, startMlgit, type MlgitServer } from './lib/mlgit-server.ts';
import { parseKnobs, type Knob } from './lib/options.ts';
import { ensurePodman, JOB_IMAGE, podmanCli } from './lib/podman.ts';
import { runChecked } from './lib/run.ts';
import { median } from './lib/stats.ts';
import { FINAL_STATUSES, type RunSummary } from './lib/run-summary.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMAGE = JOB_IMAGE;
const KNOBS = {
  pushes: { flag: 'pushes', env: 'BENCH_RUNS_PUSHES', fallback: 20, min: 1 },
  matrix: { flag: 'matrix', env: 'BENCH_RUNS_MATRIX', fallback: 50, min: 1 },
} as const satisfies Record<string, Knob>;
const SWITCHES = { processRuntime: { flag: 'runtime-process', env: 'BENCH_RUNS_PROCESS' } } as const;
const POLL_MS = 10;

interface Project {
  dir: string;
  git: (...args: string[]) => Promise<string>;
  auth: string;
  server: MlgitServer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

async function startProject(scratch: string, name: string, env: NodeJS.ProcessEnv, manifest: string): Promise<Project> {
  const dataDir = path.join(scratch, `${name}-data`);
  const server = await startMlgit({ repoRoot: ROOT, dataDir, port: await freePort(), adminPassword: BENCH_ADMIN.password, env });
  onCleanup(() => server.stop());
  const auth = basicAuth(BENCH_ADMIN.user, BENCH_ADMIN.password);
  const created = await fetch(`${server.url}/api/v1/repos`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  if (created.status !== 201) throw new Error(`create repo: ${created.status} ${await created.text()}`);
  const gitEnv = withIdentity(await isolatedGitEnv(path.join(scratch, name)));
  const dir = path.join(scratch, name, 'work');
  const git = async (...args: string[]) => (await runChecked('git', args, { env: gitEnv, cwd: dir })).stdout;
  await runChecked('git', ['init', '-q', '-b', 'main', dir], { env: gitEnv });
  await writeFile(path.join(dir, 'mlproject.yaml'), manifest);
  await git('add', '-A');
  await git('commit', '-q', '-m', 'manifest');
  await git('remote', 'add', 'origin', `http://${BENCH_ADMIN.user}:${BENCH_ADMIN.password}@127.0.0.1:${new URL(server.url).port}/${BENCH_ADMIN.user}/${name}.git`);
  return { dir, git, auth, server };
}

/** A new commit (the manifest says cache: false, so every push runs) pushed; returns its sha and when the push returned. */
async function pushCommit(project: Project, i: number): Promise<{ sha: string; pushedAt: number }> {
  await writeFile(path.join(project.dir, 'round.txt'), `${i}\n`);
  await project.git('add', '-A');
  await project.git('commit', '-q', '-m', `round ${i}`);
  await project.git('push', '-q', 'origin', 'main');
  const pushedAt = Date.now();
  return { sha: (await project.git('rev-parse', 'HEAD')).trim(), pushedAt };
}

async function runsOf(project: Project, sha: string): Promise<RunSummary[]> {
  const response = await fetch(`${project.server.url}/api/v1/repos/${BENCH_ADMIN.user}/${path.basename(path.dirname(project.dir))}/runs?commit=${sha}&per_page=100`, {
    headers: { authorization: project.auth },
  });
  return (await response.json()) as RunSummary[];
}

async function logOf(project: Project, runId: number): Promise<string> {
  const repo = path.basename(path.dirname(project.dir));
  return (await fetch(`${project.server.url}/api/v1/repos/${BENCH_ADMIN.user}/${repo}/runs/${runId}/logs`, { headers: { authorization: project.auth } })).text();
}

async function notesHead(project: Project): Promise<string> {
  return (await project.git('ls-remote', 'origin', 'refs/notes/mlproject')).split('\t')[0] ?? '';
}

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== null) return value;
    await sleep(POLL_MS);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function main(): Promise<number> {
  cleanupOnSignals();
  const options = parseKnobs(process.argv.slice(2), process.env, KNOBS, SWITCHES);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mlgit-bench-runs-'));
  onCleanup(() => rm(scratch, { recursive: true, force: true }));
  const socket = options.processRuntime ? null : ensurePodman();
  const runtime = socket ? 'docker' : 'process';
  const env: NodeJS.ProcessEnv = {
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    MLGIT_REDIS_PREFIX: `bench-runs-${process.pid}`,
    MLGIT_RUNTIME: runtime,
    ...(socket ? { MLGIT_DOCKER_SOCKET: socket } : {}),
  };
  console.log(`runtime: ${runtime}${socket ? ` (${socket}, image ${IMAGE})` : ''}; queue: BullMQ; database: ${process.env.BENCH_DATABASE_URL ? 'Postgres' : 'PGlite'}`);

  // (a) push -> the job's first instruction.
  const latency = await startProject(scratch, 'latency', env, `version: 1\nname: latency\nimage: ${IMAGE}\ncache: false\njobs:\n  clock:\n    kind: custom\n    command: date +START%s%N\n`);
  const latencies: number[] = [];
  for (let i = 0; i < options.pushes; i++) {
    const { sha, pushedAt } = await pushCommit(latency, i);
    const run = await until('the latency run', async () => {
      const [r] = await runsOf(latency, sha);
      return r && r.status === 'success' ? r : null;
    });
    const started = /START(\d{19})/.exec(await logOf(latency, run.id));
    if (!started) throw new Error(`run ${run.id} printed no start time`);
    latencies.push(Number(BigInt(started[1]!) / 1_000_000n) - pushedAt);
  }
  await latency.server.stop();
  const a = median(latencies);
  console.log(`(a) push -> job running: median ${seconds(a)} over ${latencies.length} pushes (min ${seconds(Math.min(...latencies))}, max ${seconds(Math.max(...latencies))}); target < 1 s: ${a < 1000 ? 'meets' : 'MISSES'}`);

  // (b) `true`, full cycle to the note, vs podman run --rm.
  const cycle = await startProject(scratch, 'cycle', env, `version: 1\nname: cycle\nimage: ${IMAGE}\ncache: false\njobs:\n  noop:\n    kind: custom\n    command: "true"\n`);
  const cycles: number[] = [];
  for (let i = 0; i < options.pushes; i++) {
    const before = await notesHead(cycle);
    const { sha, pushedAt } = await pushCommit(cycle, i);
    await until('the note of the noop run', async () => ((await notesHead(cycle)) !== before ? true : null));
    const done = Date.now();
    const [run] = await runsOf(cycle, sha);
    if (run?.status !== 'success') throw new Error(`noop run ended ${run?.status}: ${run?.message}`);
    cycles.push(done - pushedAt);
  }
  await cycle.server.stop();
  const b = median(cycles);
  let reference = '';
  if (socket) {
    const podman: number[] = [];
    for (let i = 0; i < options.pushes; i++) {
      const start = Date.now();
      const cli = podmanCli();
      execFileSync(cli.command, [...cli.args, 'run', '--rm', '--network', 'none', IMAGE, 'true'], { stdio: 'ignore', env: cli.env });
      podman.push(Date.now() - start);
    }
    const ref = median(podman);
    reference = `; podman run --rm ${IMAGE} true: median ${seconds(ref)} (mlgit full cycle / podman run = ${(b / ref).toFixed(2)})`;
  }
  console.log(`(b) job \`true\`, push -> note: median ${seconds(b)} over ${cycles.length} pushes; target < 1.5 s: ${b < 1500 ? 'meets' : 'MISSES'}${reference}`);

  // (d) many completions on one commit: every shard runs at once (process runtime, concurrency =
  // matrix size), so their completions, and their notes refreshes, land together.
  const values = Array.from({ length: options.matrix }, (_, i) => i).join(', ');
  const fanEnv = { ...env, MLGIT_RUNTIME: 'process', MLGIT_RUNNER_CONCURRENCY: String(options.matrix), MLGIT_RUN_MAX_MATRIX: String(Math.max(64, options.matrix)) };
  const fan = await startProject(scratch, 'fan', fanEnv, `version: 1\nname: fan\nimage: ${IMAGE}\ncache: false\njobs:\n  shard:\n    kind: custom\n    command: "true"\n    matrix: {i: [${values}]}\n`);
  const { sha } = await pushCommit(fan, 0);
  const runs = await until('the matrix runs', async () => {
    const all = await runsOf(fan, sha);
    return all.length === options.matrix && all.every((r) => FINAL_STATUSES.includes(r.status)) ? all : null;
  }, 600_000);
  const finished = runs.map((r) => Date.parse(r.finished_at));
  const lastDone = Math.max(...finished);
  const lines = await until('the converged note', async () => {
    await fan.git('fetch', '-q', 'origin', '+refs/notes/mlproject:refs/notes/mlproject');
    const note = await fan.git('notes', '--ref=mlproject', 'show', sha).catch(() => '');
    const count = note.split('\n').filter((l) => l.startsWith('{')).length;
    return count === options.matrix ? count : null;
  }, 120_000);
  const converged = Date.now();
  await fan.server.stop();
  const failed = runs.filter((r) => r.status !== 'success').length;
  console.log(
    `(d) ${options.matrix} completions on one commit within ${seconds(lastDone - Math.min(...finished))}: the note converged with ${lines} of ${options.matrix} lines ` +
      `(lost: ${options.matrix - lines}) ${seconds(converged - lastDone)} after the last completion; ${failed} runs not successful`,
  );
  return failed === 0 && lines === options.matrix ? 0 : 1;
}

await runBenchMain('bench:runs', main);
