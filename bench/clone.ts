/**
 * Clone benchmark: mlgit against git's reference smart-HTTP server (`git http-backend`), on the
 * same generated repositories, with the same client.
 *
 *   node --import tsx bench/clone.ts [--size-mb 200] [--rounds 5] [--concurrency 16]
 *                                    [--concurrent-size-mb 50] [--reference-only]
 *
 * (or BENCH_SIZE_MB, BENCH_ROUNDS, BENCH_CONCURRENCY, BENCH_CONCURRENT_SIZE_MB, BENCH_REFERENCE_ONLY=1).
 * Exits non-zero only when a clone fails; missed targets are reported, not fatal.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupOnSignals, onCleanup, runBenchMain } from './lib/cleanup.ts';
import { cloneBatch, verifiedClone, type CloneContext } from './lib/clones.ts';
import { freePort } from './lib/free-port.ts';
import { isolatedGitEnv } from './lib/git-env.ts';
import { startHttpBackend } from './lib/http-backend-server.ts';
import { basicAuth, BENCH_ADMIN, createRepo, startMlgit, waitForBitmap, type MlgitServer } from './lib/mlgit-server.ts';
import { parseOptions, type BenchOptions } from './lib/options.ts';
import { ensureGeneratedRepo, packBytes, type GeneratedRepo } from './lib/repo-generator.ts';
import { nodeMemoryKb, startRssSampler, type RssPeak } from './lib/rss-sampler.ts';
import { abortRunningCommands, runChecked } from './lib/run.ts';
import { median } from './lib/stats.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE_DIR = path.join(ROOT, 'bench', '.work', 'repos');
const ADMIN_USER = BENCH_ADMIN.user;
const ADMIN_PASSWORD = BENCH_ADMIN.password;
const SINGLE_TARGET_RATIO = 1.1;
const RSS_TARGET_MB = 300;
const IDLE_SETTLE_MS = 10_000;

/** One server under test, with the clone URLs of the two benchmark repositories. */
interface Target {
  readonly label: string;
  readonly singleUrl: string;
  readonly concurrentUrl: string;
  /** Process tree whose memory is sampled during the concurrent clones. */
  readonly rssPid?: number;
}

interface Repos {
  readonly single: GeneratedRepo;
  readonly concurrent: GeneratedRepo;
}

interface Measurements {
  readonly single: Map<string, number[]>;
  readonly concurrent: Map<string, number[]>;
  readonly failures: Map<string, number>;
  rss?: RssPeak;
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2), process.env);
  cleanupOnSignals();
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mlgit-bench-'));
  onCleanup(() => rm(scratch, { recursive: true, force: true, maxRetries: 3 }));
  // Runs before the scratch dir is removed: clones still writing into it would make rm fail.
  onCleanup(async () => abortRunningCommands());
  const env = await isolatedGitEnv(scratch);
  const context: CloneContext = { env, scratchDir: path.join(scratch, 'clones') };

  const repos = await buildRepos(options, env);
  const targets: Target[] = [];
  const mlgitNotes: string[] = [];
  if (!options.referenceOnly) targets.push(await setUpMlgit(scratch, repos, env, mlgitNotes));
  targets.push(await setUpReference(scratch, repos, env));

  await warmUp(options, context, targets, repos);
  const results: Measurements = { single: new Map(), concurrent: new Map(), failures: new Map() };
  await measureSingle(options, context, targets, results);
  await measureConcurrent(options, context, targets, results, mlgitNotes);

  printReport(options, repos, targets, results, mlgitNotes);
  const failures = [...results.failures.values()].reduce((sum, n) => sum + n, 0);
  return failures === 0 ? 0 : 1;
}

async function buildRepos(options: BenchOptions, env: NodeJS.ProcessEnv): Promise<Repos> {
  const build = (sizeMb: number): Promise<GeneratedRepo> =>
    ensureGeneratedRepo(CACHE_DIR, sizeMb, env, (dir) => {
      log(`building a ~${sizeMb} MB repository in ${path.relative(ROOT, dir)} (one-time, ~1 min for 200 MB)...`);
    });
  const single = await build(options.sizeMb);
  const concurrent = options.concurrentSizeMb === options.sizeMb ? single : await build(options.concurrentSizeMb);
  return { single, concurrent };
}

/**
 * The reference serves its own copy, repacked with a bitmap like mlgit's maintenance does, so
 * the comparison is between servers and not between pack layouts.
 */
async function setUpReference(scratch: string, repos: Repos, env: NodeJS.ProcessEnv): Promise<Target> {
  const root = path.join(scratch, 'reference');
  await mkdir(root, { recursive: true });
  log('reference: copying and repacking with a bitmap...');
  for (const [name, repo] of referenceCopies(repos)) {
    const dir = path.join(root, `${name}.git`);
    await runChecked('git', ['clone', '--mirror', '-q', repo.dir, dir], { env });
    await runChecked('git', ['repack', '-a', '-d', '-q', '--write-bitmap-index'], { cwd: dir, env });
  }
  const backend = await startHttpBackend(root, { env });
  onCleanup(() => backend.close());
  log(`reference: git http-backend at ${backend.url}`);
  const concurrentName = repos.concurrent === repos.single ? 'big' : 'medium';
  return { label: 'http-backend', singleUrl: `${backend.url}/big.git`, concurrentUrl: `${backend.url}/${concurrentName}.git` };
}

function referenceCopies(repos: Repos): Array<[string, GeneratedRepo]> {
  return repos.concurrent === repos.single ? [['big', repos.single]] : [['big', repos.single], ['medium', repos.concurrent]];
}

async function setUpMlgit(scratch: string, repos: Repos, env: NodeJS.ProcessEnv, notes: string[]): Promise<Target> {
  const dataDir = path.join(scratch, 'mlgit-data');
  await mkdir(dataDir, { recursive: true });
  log('mlgit: starting (node scripts/mlgit.mjs serve, embedded PGlite)...');
  const started = Date.now();
  const server = await startMlgit({ repoRoot: ROOT, dataDir, port: await freePort(), adminPassword: ADMIN_PASSWORD });
  onCleanup(() => server.stop());
  log(`mlgit: healthy at ${server.url} after ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${server.pid})`);
  // Idle as a fresh install sits (issue 15's target: < 200 MB): start-up garbage collected, no work yet.
  await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
  notes.push(`node memory at idle (${IDLE_SETTLE_MS / 1000} s after start, no work yet): ${memoryText(await nodeMemoryKb(server.pid))}`);

  const claimed = new Set<string>();
  const single = await pushToMlgit(server, 'big', repos.single, env, claimed, notes);
  const concurrent = repos.concurrent === repos.single ? single : await pushToMlgit(server, 'medium', repos.concurrent, env, claimed, notes);
  return { label: 'mlgit', singleUrl: single, concurrentUrl: concurrent, rssPid: server.pid };
}

/** Creates the repo, pushes every branch and tag, waits for the background repack. Returns the clone URL. */
async function pushToMlgit(
  server: MlgitServer,
  name: string,
  repo: GeneratedRepo,
  env: NodeJS.ProcessEnv,
  claimed: Set<string>,
  notes: string[],
): Promise<string> {
  const created = await createRepo(server, name, basicAuth(ADMIN_USER, ADMIN_PASSWORD));
  const pushUrl = new URL(created.cloneUrl);
  pushUrl.username = ADMIN_USER;
  pushUrl.password = ADMIN_PASSWORD;
  // Not --mirror: that would also try to delete or overwrite refs the server owns.
  const push = await runChecked('git', ['--git-dir', repo.dir, 'push', '-q', pushUrl.href, 'refs/heads/*:refs/heads/*', 'refs/tags/*:refs/tags/*'], { env });
  log(`mlgit: pushed ${name} (${mb(repo.packBytes)} MB) in ${push.seconds.toFixed(1)} s, waiting for its repack...`);
  const waitStarted = Date.now();
  const onDisk = await waitForBitmap(server.dataDir, name, claimed);
  const waited = ((Date.now() - waitStarted) / 1000).toFixed(1);
  if (onDisk) {
    claimed.add(onDisk.dir);
    notes.push(`${name}: push ${push.seconds.toFixed(1)} s, bitmap after ${waited} s, ${onDisk.packs} pack(s), ${mb(await packBytes(onDisk.dir))} MB`);
  } else {
    notes.push(`${name}: push ${push.seconds.toFixed(1)} s, NO bitmap after ${waited} s (timed unrepacked)`);
    log(`mlgit: warning: no .bitmap for ${name} after ${waited} s; timing it as is`);
  }
  return created.cloneUrl;
}

/** Untimed clones: page cache, JIT and connection setup should not land in round 1. Also checks correctness. */
async function warmUp(options: BenchOptions, context: CloneContext, targets: Target[], repos: Repos): Promise<void> {
  for (const target of targets) {
    log(`${target.label}: warm-up and ref check...`);
    await verifiedClone(context, target.singleUrl, repos.single.dir);
    await verifiedClone(context, target.concurrentUrl, repos.concurrent.dir);
    for (let i = 1; i < options.warmup; i += 1) await cloneBatch(context, target.singleUrl, 1);
  }
}

/** Alternates which server goes first each round, so drift (thermal, cache) favours neither. */
function roundOrder(targets: readonly Target[], round: number): Target[] {
  return round % 2 === 0 ? [...targets] : [...targets].reverse();
}

function record(map: Map<string, number[]>, label: string, seconds: number): void {
  map.set(label, [...(map.get(label) ?? []), seconds]);
}

function countFailures(results: Measurements, label: string, failures: number, error: string | undefined): void {
  results.failures.set(label, (results.failures.get(label) ?? 0) + failures);
  if (error !== undefined) log(`${label}: clone failed: ${error}`);
}

async function measureSingle(options: BenchOptions, context: CloneContext, targets: Target[], results: Measurements): Promise<void> {
  for (let round = 0; round < options.rounds; round += 1) {
    for (const target of roundOrder(targets, round)) {
      const batch = await cloneBatch(context, target.singleUrl, 1);
      record(results.single, target.label, batch.seconds);
      countFailures(results, target.label, batch.failures, batch.firstError);
      log(`single round ${round + 1}/${options.rounds}: ${target.label} ${batch.seconds.toFixed(2)} s`);
    }
  }
}

async function measureConcurrent(
  options: BenchOptions,
  context: CloneContext,
  targets: Target[],
  results: Measurements,
  notes: string[],
): Promise<void> {
  for (const target of targets) {
    if (target.rssPid !== undefined) notes.push(`node memory before x${options.concurrency}: ${memoryText(await nodeMemoryKb(target.rssPid))}`);
  }
  for (let round = 0; round < options.concurrentRounds; round += 1) {
    for (const target of roundOrder(targets, round)) {
      const sampler = target.rssPid === undefined ? undefined : startRssSampler(target.rssPid);
      const batch = await cloneBatch(context, target.concurrentUrl, options.concurrency);
      const peak = await sampler?.stop();
      if (peak) results.rss = maxPeak(results.rss, peak);
      record(results.concurrent, target.label, batch.seconds);
      countFailures(results, target.label, batch.failures, batch.firstError);
      log(`x${options.concurrency} round ${round + 1}/${options.concurrentRounds}: ${target.label} ${batch.seconds.toFixed(2)} s, ${batch.failures} failed`);
    }
  }
}

function maxPeak(a: RssPeak | undefined, b: RssPeak): RssPeak {
  if (!a) return b;
  return {
    nodeKb: Math.max(a.nodeKb, b.nodeKb),
    nodePssKb: Math.max(a.nodePssKb, b.nodePssKb),
    gitKb: Math.max(a.gitKb, b.gitKb),
    maxGitProcesses: Math.max(a.maxGitProcesses, b.maxGitProcesses),
    samples: a.samples + b.samples,
  };
}

/** The server alone, and every node process of its tree (it and its git spawner) in RSS and PSS. */
function memoryText(memory: { rootKb: number; nodeKb: number; nodePssKb: number }): string {
  return `server ${mb(memory.rootKb * 1024)} MB RSS; with its git spawner ${mb(memory.nodeKb * 1024)} MB RSS, ${mb(memory.nodePssKb * 1024)} MB PSS`;
}

function mb(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

function pad(text: string, width: number): string {
  return text.padEnd(width);
}

function printReport(options: BenchOptions, repos: Repos, targets: Target[], results: Measurements, notes: string[]): void {
  const labels = targets.map((target) => target.label);
  const out: string[] = [''];
  out.push(`clone benchmark (${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs)`);
  out.push(`  single:     ${mb(repos.single.packBytes)} MB packed, ${repos.single.commits} commits, ${repos.single.tags} tags`);
  out.push(`  concurrent: ${mb(repos.concurrent.packBytes)} MB packed, ${options.concurrency} clones at once`);
  for (const note of notes) out.push(`  mlgit ${note}`);
  out.push('');
  out.push(tableFor(`single clone, ${options.rounds} rounds`, labels, results.single, options.rounds));
  out.push(tableFor(`x${options.concurrency} clones, ${options.concurrentRounds} rounds`, labels, results.concurrent, options.concurrentRounds));
  const failureText = labels.map((label) => `${label} ${results.failures.get(label) ?? 0}`).join(', ');
  out.push(`failed clones: ${failureText}`);
  if (results.rss) {
    out.push(`mlgit memory during x${options.concurrency}: node peak ${mb(results.rss.nodeKb * 1024)} MB RSS (${mb(results.rss.nodePssKb * 1024)} MB PSS), ` +
      `git children peak ${mb(results.rss.gitKb * 1024)} MB (up to ${results.rss.maxGitProcesses} git processes), ${results.rss.samples} samples`);
  }
  out.push('');
  out.push(...summaryLines(options, results));
  process.stdout.write(`${out.join('\n')}\n`);
}

function tableFor(title: string, labels: string[], times: Map<string, number[]>, rounds: number): string {
  const rows = [pad(title, 34) + labels.map((label) => pad(label, 14)).join('')];
  for (let round = 0; round < rounds; round += 1) {
    rows.push(pad(`  round ${round + 1}`, 34) + labels.map((label) => pad(`${(times.get(label)?.[round] ?? NaN).toFixed(2)} s`, 14)).join(''));
  }
  rows.push(pad('  median', 34) + labels.map((label) => pad(`${median(times.get(label) ?? [NaN]).toFixed(2)} s`, 14)).join(''));
  return `${rows.join('\n')}\n`;
}

function summaryLines(options: BenchOptions, results: Measurements): string[] {
  const ref = 'http-backend';
  const refSingle = median(results.single.get(ref) ?? [NaN]);
  const refConcurrent = median(results.concurrent.get(ref) ?? [NaN]);
  const refFailures = results.failures.get(ref) ?? 0;
  if (options.referenceOnly) {
    return [
      `clone single: http-backend ${refSingle.toFixed(2)}s (mlgit skipped: --reference-only)`,
      `clone x${options.concurrency}: http-backend ${refConcurrent.toFixed(2)}s failures ${refFailures} (mlgit skipped)`,
    ];
  }
  const single = median(results.single.get('mlgit') ?? [NaN]);
  const concurrent = median(results.concurrent.get('mlgit') ?? [NaN]);
  const failures = (results.failures.get('mlgit') ?? 0) + refFailures;
  const rssMb = (results.rss?.nodeKb ?? NaN) / 1024;
  return [
    `clone single: mlgit ${single.toFixed(2)}s vs http-backend ${refSingle.toFixed(2)}s ratio ${(single / refSingle).toFixed(2)} (target <= ${SINGLE_TARGET_RATIO.toFixed(2)})`,
    `clone x${options.concurrency}: mlgit ${concurrent.toFixed(2)}s vs http-backend ${refConcurrent.toFixed(2)}s ratio ${(concurrent / refConcurrent).toFixed(2)} ` +
      `failures ${failures} peak RSS ${rssMb.toFixed(0)} MB (target < ${RSS_TARGET_MB} MB)`,
  ];
}

await runBenchMain('clone benchmark', main);
