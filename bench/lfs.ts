/**
 * Git LFS benchmark: the stock `git lfs` client against mlgit, next to the physical floor of the
 * same work on the same disk (`sha256sum` of the bytes plus a `cp` of them).
 *
 *   node --import tsx bench/lfs.ts [--big-mb 1024] [--small-count 1000] [--small-kb 64]
 *                                  [--rounds 3] [--small-rounds 1] [--rss-mb 2048] [--s3-mb 256]
 *
 * (or BENCH_LFS_BIG_MB, BENCH_LFS_SMALL_COUNT, BENCH_LFS_SMALL_KB, BENCH_LFS_ROUNDS,
 * BENCH_LFS_SMALL_ROUNDS, BENCH_LFS_RSS_MB, BENCH_LFS_S3_MB; 0 skips the RSS or the S3 phase).
 * In one run:
 *   1. random data, generated once: one large object and many small ones, measured separately;
 *   2. per round, the reference: `sha256sum` then `cp` of the same files (the sum of the two),
 *      right before mlgit's upload and download of them; ratios are per round, then the median;
 *   3. mlgit, embedded defaults and local store: upload = timed `git lfs push origin main` (what
 *      the pre-push hook of `git push` does), then the `git push` of the commit (timed for
 *      information); download = a `GIT_LFS_SKIP_SMUDGE=1` clone, then a timed `git lfs fetch`,
 *      then `git lfs checkout` (timed for information; fetch + checkout = `git lfs pull`);
 *   4. mlgit's own RSS during the `git push` of a separate large object (--rss-mb), against
 *      its RSS just before;
 *   5. a second mlgit on the S3 store (s3rver) behind a byte-counting proxy: how many bytes
 *      the client sends through mlgit when it uploads an object (presigned URLs go to S3), with
 *      the same upload to the local store through the same kind of proxy as a control.
 * Exits non-zero only when a transfer fails; missed targets are reported, not fatal.
 */
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupOnSignals, onCleanup, runBenchMain } from './lib/cleanup.ts';
import { startCountingProxy, type ByteCounts, type CountingProxy } from './lib/counting-proxy.ts';
import { freePort } from './lib/free-port.ts';
import { isolatedGitEnv } from './lib/git-env.ts';
import { processCpuSeconds, reapedChildrenCpuSeconds } from './lib/cpu.ts';
import { checkClone, createLfsWorkRepo, installLfs, withIdentity } from './lib/lfs-repo.ts';
import { basicAuth, BENCH_ADMIN, createRepo, lfsUsage, startMlgit, type MlgitServer } from './lib/mlgit-server.ts';
import { parseKnobs, type Knob } from './lib/options.ts';
import { ioDelta, readProcIo, type ProcIo } from './lib/proc-io.ts';
import { totalBytes, writeRandomFile, writeRandomFiles, type RandomFile } from './lib/random-data.ts';
import { gitProcessCount, processRssKb, startRssSampler, type RssPeak } from './lib/rss-sampler.ts';
import { abortRunningCommands, runChecked, runCommand, type RunResult } from './lib/run.ts';
import { startS3rver } from './lib/s3rver.ts';
import { median } from './lib/stats.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN_USER = BENCH_ADMIN.user;
const ADMIN_PASSWORD = BENCH_ADMIN.password;
const S3_BUCKET = 'mlgit-bench';
const MiB = 1024 * 1024;
const UPLOAD_TARGET = 0.6;
const DOWNLOAD_TARGET = 0.8;
const RSS_GROWTH_TARGET_MB = 100;

const KNOBS = {
  bigMb: { flag: 'big-mb', env: 'BENCH_LFS_BIG_MB', fallback: 1024, min: 1 },
  smallCount: { flag: 'small-count', env: 'BENCH_LFS_SMALL_COUNT', fallback: 1000, min: 1 },
  smallKb: { flag: 'small-kb', env: 'BENCH_LFS_SMALL_KB', fallback: 64, min: 1 },
  rssMb: { flag: 'rss-mb', env: 'BENCH_LFS_RSS_MB', fallback: 2048, min: 0 },
  s3Mb: { flag: 's3-mb', env: 'BENCH_LFS_S3_MB', fallback: 256, min: 0 },
  /** Rounds for the large object; each pairs a reference run with mlgit's upload and download. */
  rounds: { flag: 'rounds', env: 'BENCH_LFS_ROUNDS', fallback: 3, min: 1 },
  smallRounds: { flag: 'small-rounds', env: 'BENCH_LFS_SMALL_ROUNDS', fallback: 1, min: 1 },
} as const satisfies Record<string, Knob>;

type Options = ReturnType<typeof parseLfsOptions>;

function parseLfsOptions(argv: readonly string[], env: NodeJS.ProcessEnv) {
  return parseKnobs(argv, env, KNOBS, {});
}

/** One set of objects, pushed to a repo of its own and measured on its own. */
interface DataSet {
  readonly label: string;
  readonly repo: string;
  readonly files: readonly RandomFile[];
  readonly bytes: number;
}

interface ReferenceRound {
  readonly hashSeconds: number;
  readonly copySeconds: number;
  /** `sync FILE...` of the copies right after cp: what making them durable adds. */
  readonly fsyncSeconds: number;
  /** `openssl dgst -sha256` of the same files (first round only), for information: coreutils 9 hashes without SHA-NI. */
  readonly opensslSeconds?: number;
  /** CPU seconds of sha256sum + cp. */
  readonly cpuSeconds: number;
}

interface Transfer {
  readonly seconds: number;
  readonly ok: boolean;
  /** mlgit's node process RSS just before, in KiB. */
  readonly baselineKb: number;
  readonly rss: RssPeak;
  /** CPU seconds of the client command (git, git-lfs and their children) during the transfer. */
  readonly clientCpu: number;
  /** CPU seconds of mlgit's node process during the transfer. */
  readonly serverCpu: number;
}

interface Round {
  readonly reference: ReferenceRound;
  upload?: Transfer;
  /** The `git push` of the commit after the upload (pre-push batch check, pack, server hooks). */
  gitPushSeconds?: number;
  download?: Transfer;
}

interface SetResult {
  readonly set: DataSet;
  /** `git add` in the work repo (the clean filter hashes and copies each object), once. */
  addSeconds: number;
  readonly rounds: Round[];
  /** `git lfs checkout` after the first round's fetch. */
  checkoutSeconds?: number;
}

interface RssResult {
  readonly bytes: number;
  readonly upload: Transfer;
}

interface PassThrough {
  readonly bytes: number;
  readonly seconds: number;
  readonly ok: boolean;
  /** Bytes the client sent through the proxy to mlgit during the push. */
  readonly push: ByteCounts;
  /** Growth of mlgit's /proc/<pid>/io during the push (rchar counts socket and file reads). */
  readonly io?: ProcIo;
  /** Bytes mlgit sent the client during `git lfs fetch` of the same object (S3 only). */
  readonly fetch?: ByteCounts;
  readonly fetchSeconds?: number;
  /** Whether a file of the object's size is in s3rver's directory after the push (S3 only). */
  readonly inS3?: boolean;
}

interface Results {
  readonly sets: SetResult[];
  rss?: RssResult;
  control?: PassThrough;
  s3?: PassThrough;
  readonly failures: string[];
  readonly notes: string[];
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function main(): Promise<number> {
  const started = Date.now();
  const options = parseLfsOptions(process.argv.slice(2), process.env);
  cleanupOnSignals();
  // Same filesystem as the checkout (os.tmpdir() on this machine); printed in the report.
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mlgit-bench-lfs-'));
  onCleanup(() => rm(scratch, { recursive: true, force: true, maxRetries: 3 }));
  onCleanup(async () => abortRunningCommands());
  const env = withIdentity(await isolatedGitEnv(scratch));
  const lfsVersion = await installLfs(env);
  const results: Results = { sets: [], failures: [], notes: [] };
  results.notes.push(`client: ${lfsVersion}, ${(await runChecked('git', ['--version'], { env })).stdout.trim()}`);
  results.notes.push(`scratch: ${scratch} (${await sameDeviceNote(scratch)})`);

  log('generating random data...');
  const generated = Date.now();
  const sets: DataSet[] = [
    dataSet(`large: 1 x ${options.bigMb} MiB`, 'large', [await writeRandomFile(path.join(scratch, 'data', 'large', 'model.bin'), options.bigMb * MiB)]),
    dataSet(`small: ${options.smallCount} x ${options.smallKb} KiB`, 'small', await writeRandomFiles(path.join(scratch, 'data', 'small'), options.smallCount, options.smallKb * 1024, 'shard')),
  ];
  log(`generated ${mib(sets.reduce((sum, set) => sum + set.bytes, 0))} MiB in ${seconds(generated)} s`);

  const server = await startServer(scratch, 'mlgit-local', {});
  results.notes.push(`local store: node RSS when healthy ${mib((await processRssKb(server.pid)) * 1024)} MiB`);
  for (const [set, rounds] of [[sets[0], options.rounds], [sets[1], options.smallRounds]] as const) {
    if (set) results.sets.push(await measureSet(scratch, server, set, rounds, env, results.failures));
  }
  if (options.rssMb > 0) results.rss = await measureRss(scratch, server, options.rssMb, env, results.failures);
  if (options.s3Mb > 0) {
    const object = await writeRandomFile(path.join(scratch, 'data', 's3', 'weights.bin'), options.s3Mb * MiB);
    results.control = await measureControl(scratch, server, object, env, results.failures);
    await server.stop();
    await rm(server.dataDir, { recursive: true, force: true });
    results.s3 = await measureS3(scratch, object, env, results.failures);
  }
  results.notes.push(`total run time ${seconds(started)} s`);
  printReport(options, results);
  return results.failures.length === 0 ? 0 : 1;
}

function dataSet(label: string, repo: string, files: RandomFile[]): DataSet {
  return { label, repo, files, bytes: totalBytes(files) };
}

async function sameDeviceNote(scratch: string): Promise<string> {
  const [a, b] = await Promise.all([stat(scratch), stat(ROOT)]);
  return a.dev === b.dev ? 'same filesystem as the checkout' : 'NOT the filesystem of the checkout';
}

async function startServer(scratch: string, name: string, extraEnv: NodeJS.ProcessEnv): Promise<MlgitServer> {
  const dataDir = path.join(scratch, name);
  await mkdir(dataDir, { recursive: true });
  log(`${name}: starting (node scripts/mlgit.mjs serve, embedded PGlite)...`);
  const started = Date.now();
  const server = await startMlgit({ repoRoot: ROOT, dataDir, port: await freePort(), adminPassword: ADMIN_PASSWORD, env: extraEnv });
  onCleanup(() => server.stop());
  log(`${name}: healthy at ${server.url} after ${seconds(started)} s (pid ${server.pid})`);
  return server;
}

/** Flushes dirty pages (earlier writes, other processes) so they don't land in the next timing. */
async function settle(): Promise<void> {
  await runChecked('sync', []);
}

// ---------------------------------------------------------------------------------------------
// Reference: sha256sum + cp of the same bytes on the same disk.

async function measureReference(scratch: string, set: DataSet, env: NodeJS.ProcessEnv, withOpenssl: boolean): Promise<ReferenceRound> {
  const paths = set.files.map((file) => file.path);
  const dest = path.join(scratch, 'reference-copy');
  await rm(dest, { recursive: true, force: true });
  await mkdir(dest, { recursive: true });
  try {
    await settle();
    const cpu0 = await reapedChildrenCpuSeconds();
    // One line per file: keep all of them, the check below needs every oid.
    const hash = await runChecked('sha256sum', paths, { env, maxOutputChars: 200 * (paths.length + 1) + 64 * 1024 });
    const cpu1 = await reapedChildrenCpuSeconds();
    checkSha256sum(hash.stdout, set.files);
    await settle();
    const cpu2 = await reapedChildrenCpuSeconds();
    const copy = await runChecked('cp', [...paths, dest], { env });
    const cpuSeconds = cpu1 - cpu0 + (await reapedChildrenCpuSeconds()) - cpu2;
    const fsync = await runChecked('sync', paths.map((file) => path.join(dest, path.basename(file))), { env });
    let opensslSeconds: number | undefined;
    if (withOpenssl) {
      await settle();
      opensslSeconds = (await runChecked('openssl', ['dgst', '-sha256', ...paths], { env })).seconds;
    }
    return { hashSeconds: hash.seconds, copySeconds: copy.seconds, fsyncSeconds: fsync.seconds, cpuSeconds, ...(opensslSeconds === undefined ? {} : { opensslSeconds }) };
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

/** The reference must hash the same bytes: its output has to name the oids the data was generated with. */
function checkSha256sum(output: string, files: readonly RandomFile[]): void {
  const seen = new Set(output.split('\n').map((line) => line.split(' ')[0]));
  const missing = files.filter((file) => !seen.has(file.oid));
  if (missing.length > 0) throw new Error(`sha256sum disagrees with the generator on ${missing.length} file(s), e.g. ${missing[0]?.path}`);
}

function referenceSeconds(round: ReferenceRound, withFsync = false): number {
  return round.hashSeconds + round.copySeconds + (withFsync ? round.fsyncSeconds : 0);
}


// ---------------------------------------------------------------------------------------------
// mlgit, local store.

async function measureSet(
  scratch: string,
  server: MlgitServer,
  set: DataSet,
  rounds: number,
  env: NodeJS.ProcessEnv,
  failures: string[],
): Promise<SetResult> {
  const workDir = path.join(scratch, 'work', set.repo);
  const result: SetResult = { set, addSeconds: 0, rounds: [] };
  try {
    for (let index = 0; index < rounds; index += 1) {
      const round = await measureRound(scratch, server, set, index, workDir, result, env, failures);
      result.rounds.push(round);
      const label = `${set.label}: round ${index + 1}/${rounds}`;
      log(`${label}: reference ${referenceSeconds(round.reference).toFixed(2)} s, upload ${round.upload?.seconds.toFixed(2) ?? '-'} s, ` +
        `download ${round.download?.seconds.toFixed(2) ?? '-'} s`);
      if (!round.download?.ok) break; // a failed transfer is reported; more rounds would only repeat it
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return result;
}

/**
 * One round: the reference, then mlgit's upload and download of the same bytes right after it,
 * so the pair sees the same machine (on a shared VM its speed drifts by tens of percent).
 * Each round uploads into a new repo: mlgit then takes the bytes again even though it stores
 * them already (an upload must prove possession), so every round does the same work.
 */
async function measureRound(
  scratch: string,
  server: MlgitServer,
  set: DataSet,
  index: number,
  workDir: string,
  result: SetResult,
  env: NodeJS.ProcessEnv,
  failures: string[],
): Promise<Round> {
  await quiesce(server.pid, set.label);
  const reference = await measureReference(scratch, set, env, index === 0);
  const repoName = index === 0 ? set.repo : `${set.repo}-${index + 1}`;
  const created = await createRepo(server, repoName, basicAuth(ADMIN_USER, ADMIN_PASSWORD));
  if (index === 0) {
    const work = await createLfsWorkRepo(workDir, set.files, withCredentials(created.cloneUrl), env);
    result.addSeconds = work.addSeconds;
  } else {
    await runChecked('git', ['remote', 'set-url', 'origin', withCredentials(created.cloneUrl)], { cwd: workDir, env });
    // git-lfs skips objects reachable from the remote-tracking refs ("already pushed"): forget
    // the previous round's push, or nothing would be uploaded to this new repo.
    await runChecked('git', ['update-ref', '-d', 'refs/remotes/origin/main'], { cwd: workDir, env });
  }
  const round: Round = { reference };
  const label = `${set.label} round ${index + 1}`;

  // The objects alone (what the pre-push hook of `git push` does first), then the commit: the
  // second push only asks the batch API, finds every object there, and sends the git pack.
  round.upload = await timedTransfer(server.pid, () => runCommand('git', ['lfs', 'push', 'origin', 'main'], { cwd: workDir, env }), `${label}: upload`, failures);
  if (!round.upload.ok) return round;
  const push = await gitPush(workDir, env);
  round.gitPushSeconds = push.seconds;
  if (push.code !== 0) {
    failures.push(`${label}: git push after the upload failed: ${tail(push)}`);
    return round;
  }
  await checkStored(server, created.owner, repoName, set, failures);

  const cloneDir = path.join(scratch, 'clones', repoName);
  try {
    await runChecked('git', ['clone', '-q', created.cloneUrl, cloneDir], { env: { ...env, GIT_LFS_SKIP_SMUDGE: '1' } });
    round.download = await timedTransfer(server.pid, () => runCommand('git', ['lfs', 'fetch'], { cwd: cloneDir, env }), `${label}: download`, failures);
    if (!round.download.ok) return round;
    // The working-tree copy is the client's business: timed once, for information.
    let checkedOut = false;
    if (index === 0) {
      const checkout = await runCommand('git', ['lfs', 'checkout'], { cwd: cloneDir, env });
      if (checkout.code !== 0) failures.push(`${label}: git lfs checkout failed: ${tail(checkout)}`);
      result.checkoutSeconds = checkout.seconds;
      checkedOut = checkout.code === 0;
    }
    const problems = await checkClone(cloneDir, set.files, checkedOut);
    if (problems.length > 0) failures.push(`${label}: the clone is incomplete: ${problems.slice(0, 3).join('; ')}`);
  } finally {
    await rm(cloneDir, { recursive: true, force: true });
  }
  return round;
}

function withCredentials(cloneUrl: string): string {
  const url = new URL(cloneUrl);
  url.username = ADMIN_USER;
  url.password = ADMIN_PASSWORD;
  return url.href;
}

/** Runs one client command with mlgit's memory sampled throughout; a failure is recorded, not thrown. */
async function timedTransfer(pid: number, command: () => Promise<RunResult>, label: string, failures: string[]): Promise<Transfer> {
  await quiesce(pid, label);
  await settle();
  const baselineKb = await processRssKb(pid);
  const [client0, server0] = await Promise.all([reapedChildrenCpuSeconds(), processCpuSeconds(pid)]);
  const sampler = startRssSampler(pid);
  const run = await command().finally(() => sampler.stop());
  const [client1, server1, rss] = await Promise.all([reapedChildrenCpuSeconds(), processCpuSeconds(pid), sampler.stop()]);
  const ok = run.code === 0;
  if (!ok) failures.push(`${label} failed (exit ${run.signal ?? run.code}): ${tail(run)}`);
  return { seconds: run.seconds, ok, baselineKb, rss, clientCpu: client1 - client0, serverCpu: server1 - server0 };
}

/**
 * mlgit repacks a repository in the background a moment after each push (MLGIT_MAINTENANCE_DELAY_MS,
 * 2 s by default). Timings wait this long after the last push, so the repack runs before them.
 */
const MAINTENANCE_GRACE_MS = 3000;
let lastPushAt = 0;

async function gitPush(workDir: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  try {
    return await runCommand('git', ['push', '-q', 'origin', 'main'], { cwd: workDir, env });
  } finally {
    lastPushAt = Date.now();
  }
}

/**
 * Waits until mlgit runs no git child (a repack after a push, a hook) so that work on the same
 * two cores does not land in the next timing. Gives up after a minute and says so.
 */
async function quiesce(pid: number, label: string): Promise<void> {
  const started = Date.now();
  const grace = lastPushAt + MAINTENANCE_GRACE_MS - started;
  if (grace > 0) await sleep(grace);
  let quiet = 0;
  while (quiet < 2) {
    quiet = (await gitProcessCount(pid)) === 0 ? quiet + 1 : 0;
    if (Date.now() - started > 60_000) {
      log(`${label}: mlgit still runs git processes after 60 s; timing anyway`);
      return;
    }
    if (quiet < 2) await sleep(250);
  }
  const waited = Date.now() - started;
  if (waited > MAINTENANCE_GRACE_MS + 1000) log(`${label}: waited ${(waited / 1000).toFixed(1)} s for mlgit's git processes to finish`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function tail(run: RunResult): string {
  return (run.stderr || run.stdout).trim().split('\n').slice(-8).join('\n');
}

/** The server's own accounting must show every object of the set, at full size. */
async function checkStored(server: MlgitServer, owner: string, repo: string, set: DataSet, failures: string[]): Promise<void> {
  const usage = await lfsUsage(server, owner, repo);
  if (usage.objects !== set.files.length || usage.bytes !== set.bytes) {
    failures.push(`${owner}/${repo}: mlgit stores ${usage.objects} object(s) / ${usage.bytes} bytes, expected ${set.files.length} / ${set.bytes}`);
  }
}

async function measureRss(scratch: string, server: MlgitServer, sizeMb: number, env: NodeJS.ProcessEnv, failures: string[]): Promise<RssResult> {
  log(`rss: generating a ${sizeMb} MiB object...`);
  const file = await writeRandomFile(path.join(scratch, 'data', 'rss', 'checkpoint.bin'), sizeMb * MiB);
  const set = dataSet(`rss: 1 x ${sizeMb} MiB`, 'rss', [file]);
  const created = await createRepo(server, set.repo, basicAuth(ADMIN_USER, ADMIN_PASSWORD));
  const workDir = path.join(scratch, 'work', set.repo);
  await createLfsWorkRepo(workDir, set.files, withCredentials(created.cloneUrl), env);
  log(`rss: timing git push of ${sizeMb} MiB with mlgit's RSS sampled...`);
  const upload = await timedTransfer(server.pid, () => gitPush(workDir, env), set.label, failures);
  if (upload.ok) await checkStored(server, created.owner, set.repo, set, failures);
  await rm(workDir, { recursive: true, force: true });
  await rm(path.dirname(file.path), { recursive: true, force: true });
  log(`rss: upload ${upload.seconds.toFixed(2)} s, node RSS ${mib(upload.baselineKb * 1024)} -> peak ${mib((upload.rss.rootKb ?? 0) * 1024)} MiB`);
  return { bytes: set.bytes, upload };
}

// ---------------------------------------------------------------------------------------------
// Bytes through mlgit: a local-store control and the S3 store, both behind a counting proxy.

async function pushThroughProxy(
  scratch: string,
  server: MlgitServer,
  proxy: CountingProxy,
  repo: string,
  object: RandomFile,
  env: NodeJS.ProcessEnv,
  failures: string[],
): Promise<{ run: RunResult; push: ByteCounts; io: ProcIo; owner: string; cloneUrl: string }> {
  const created = await createRepo(server, repo, basicAuth(ADMIN_USER, ADMIN_PASSWORD));
  // Everything the client sends mlgit goes through the proxy: git's smart HTTP, the LFS batch
  // and verify calls, and any object PUT whose href points at mlgit (the request's Host).
  const viaProxy = `${proxy.url}/${created.owner}/${created.name}.git`;
  const workDir = path.join(scratch, 'work', repo);
  await createLfsWorkRepo(workDir, [object], withCredentials(viaProxy), env);
  await settle();
  const before = proxy.counts();
  const ioBefore = await readProcIo(server.pid);
  const run = await gitPush(workDir, env);
  const ioAfter = await readProcIo(server.pid);
  const after = proxy.counts();
  if (run.code !== 0) failures.push(`${repo}: upload through the proxy failed: ${tail(run)}`);
  await rm(workDir, { recursive: true, force: true });
  return { run, push: countsDelta(before, after), io: ioDelta(ioBefore, ioAfter), owner: created.owner, cloneUrl: viaProxy };
}

function countsDelta(before: ByteCounts, after: ByteCounts): ByteCounts {
  return { upstream: after.upstream - before.upstream, downstream: after.downstream - before.downstream, connections: after.connections - before.connections };
}

/** The same object to the local store: bytes do go through mlgit there, which shows the counter counts. */
async function measureControl(scratch: string, server: MlgitServer, object: RandomFile, env: NodeJS.ProcessEnv, failures: string[]): Promise<PassThrough> {
  log('control: uploading the S3 object to the local store through the counting proxy...');
  const proxy = await startCountingProxy(Number(new URL(server.url).port));
  onCleanup(() => proxy.close());
  const { run, push, io } = await pushThroughProxy(scratch, server, proxy, 'control', object, env, failures);
  await proxy.close();
  return { bytes: object.size, seconds: run.seconds, ok: run.code === 0, push, io };
}

async function measureS3(scratch: string, object: RandomFile, env: NodeJS.ProcessEnv, failures: string[]): Promise<PassThrough> {
  const s3Dir = path.join(scratch, 's3rver');
  await mkdir(s3Dir, { recursive: true });
  const s3 = await startS3rver(s3Dir, S3_BUCKET);
  onCleanup(() => s3.stop());
  log(`s3: s3rver at ${s3.endpoint} (pid ${s3.pid})`);
  const server = await startServer(scratch, 'mlgit-s3', {
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET,
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_FORCE_PATH_STYLE: 'true',
    S3_REGION: 'us-east-1',
  });
  const proxy = await startCountingProxy(Number(new URL(server.url).port));
  onCleanup(() => proxy.close());
  log(`s3: uploading ${mib(object.size)} MiB through mlgit's proxy at ${proxy.url}...`);
  const { run, push, io, owner, cloneUrl } = await pushThroughProxy(scratch, server, proxy, 's3', object, env, failures);
  const ok = run.code === 0;
  const result: { -readonly [K in keyof PassThrough]: PassThrough[K] } = { bytes: object.size, seconds: run.seconds, ok, push, io };
  if (!ok) return result;
  await checkStored(server, owner, 's3', dataSet('s3', 's3', [object]), failures);
  result.inS3 = await hasFileOfSize(s3Dir, object.size);
  if (!result.inS3) failures.push(`s3: no ${object.size}-byte object in s3rver's directory after the push`);

  log('s3: clone (GIT_LFS_SKIP_SMUDGE=1) and git lfs fetch through the proxy...');
  const cloneDir = path.join(scratch, 'clones', 's3');
  await runChecked('git', ['clone', '-q', cloneUrl, cloneDir], { env: { ...env, GIT_LFS_SKIP_SMUDGE: '1' } });
  await settle();
  const before = proxy.counts();
  const fetch = await runCommand('git', ['lfs', 'fetch'], { cwd: cloneDir, env });
  result.fetch = countsDelta(before, proxy.counts());
  result.fetchSeconds = fetch.seconds;
  if (fetch.code !== 0) failures.push(`s3: git lfs fetch failed: ${tail(fetch)}`);
  else {
    const problems = await checkClone(cloneDir, [object], false);
    if (problems.length > 0) failures.push(`s3: the clone is incomplete: ${problems.join('; ')}`);
  }
  await rm(cloneDir, { recursive: true, force: true });
  return result;
}

async function hasFileOfSize(dir: string, size: number): Promise<boolean> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (entry.isFile() && (await stat(path.join(entry.parentPath, entry.name))).size === size) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Report.

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}

function seconds(since: number): string {
  return ((Date.now() - since) / 1000).toFixed(1);
}

function rate(bytes: number, secs: number): string {
  return (bytes / MiB / secs).toFixed(0);
}

function printReport(options: Options, results: Results): void {
  const out: string[] = [''];
  out.push(`Git LFS benchmark (${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs, load avg ${os.loadavg()[0]?.toFixed(1)})`);
  for (const note of results.notes) out.push(`  ${note}`);
  out.push('  reference = sha256sum, then cp of the same files to the same disk: the SUM of the two times; "with fsync"');
  out.push('  adds `sync FILE` of the copies (mlgit\'s local store fsyncs each object; git-lfs does not). Each round runs the');
  out.push('  reference and then mlgit\'s upload and download, and its ratio = reference time / mlgit time; the summary');
  out.push('  gives the median of the rounds\' ratios, so a machine whose speed drifts (a shared VM) is compared with itself.');
  out.push('  upload = `git lfs push origin main` (what the pre-push hook of `git push` does), then the `git push` itself;');
  out.push('  download = `git lfs fetch` after a GIT_LFS_SKIP_SMUDGE=1 clone, then `git lfs checkout` (= git lfs pull).');
  out.push('  MiB/s = 2^20 bytes per second; page cache warm; each timing starts after a `sync` and once mlgit\'s');
  out.push('  post-push repack is done. CPU = user+sys seconds (client: git and its children; mlgit: its node process).');
  out.push('');

  const width = 42;
  const col = 34;
  const row = (label: string, cells: string[]): string => (label.padEnd(width) + cells.map((cell) => cell.padEnd(col)).join('')).trimEnd();
  const sets = results.sets;
  const perRound = (pick: (round: Round) => number | undefined, digits = 2): string[] =>
    sets.map((r) => `${r.rounds.map((round) => pick(round)?.toFixed(digits) ?? '-').join(' / ')} s`);
  out.push(row('', sets.map((r) => r.set.label)));
  out.push(row('bytes, rounds', sets.map((r) => `${mib(r.set.bytes)} MiB, ${r.rounds.length} round(s)`)));
  out.push(row('reference sha256sum', perRound((round) => round.reference.hashSeconds)));
  out.push(row('reference cp', perRound((round) => round.reference.copySeconds)));
  out.push(row('reference fsync of the copy', perRound((round) => round.reference.fsyncSeconds)));
  out.push(row('reference CPU of sha256sum + cp', perRound((round) => round.reference.cpuSeconds)));
  out.push(row('  (info: openssl dgst -sha256)', perRound((round) => round.reference.opensslSeconds)));
  out.push(row('reference hash+cp', perRound((round) => referenceSeconds(round.reference))));
  out.push(row('  median', sets.map((r) => throughputCell(r.set.bytes, median(r.rounds.map((round) => referenceSeconds(round.reference)))))));
  out.push(row('  median with fsync', sets.map((r) => throughputCell(r.set.bytes, median(r.rounds.map((round) => referenceSeconds(round.reference, true)))))));
  out.push(row('client git add (clean filter, info)', sets.map((r) => `${r.addSeconds.toFixed(2)} s`)));
  out.push(row('mlgit upload (git lfs push)', perRound((round) => okSeconds(round.upload))));
  out.push(row('  median; median ratio', sets.map((r) => medianCell(r, (round) => round.upload))));
  out.push(row('  then git push of the commit (info)', perRound((round) => round.gitPushSeconds)));
  out.push(row('mlgit download (git lfs fetch)', perRound((round) => okSeconds(round.download))));
  out.push(row('  median; median ratio', sets.map((r) => medianCell(r, (round) => round.download))));
  out.push(row('  then git lfs checkout (info, round 1)', sets.map((r) => (r.checkoutSeconds === undefined ? '-' : `${r.checkoutSeconds.toFixed(2)} s`))));
  out.push(row('CPU upload, client / mlgit (median)', sets.map((r) => cpuCell(r, (round) => round.upload))));
  out.push(row('CPU download, client / mlgit (median)', sets.map((r) => cpuCell(r, (round) => round.download))));
  out.push(row('mlgit RSS upload, before / peak (max)', sets.map((r) => rssCell(r, (round) => round.upload))));
  out.push(row('mlgit RSS download, before / peak (max)', sets.map((r) => rssCell(r, (round) => round.download))));
  out.push('');
  if (results.rss) {
    const { upload } = results.rss;
    out.push(`RSS check: ${mib(results.rss.bytes)} MiB object, git push ${upload.seconds.toFixed(2)} s (${rate(results.rss.bytes, upload.seconds)} MiB/s), ` +
      `CPU client ${upload.clientCpu.toFixed(2)} s / mlgit ${upload.serverCpu.toFixed(2)} s, ${upload.rss.samples} RSS samples every 100 ms;`);
    out.push(`  mlgit node process ${mib(upload.baselineKb * 1024)} MiB before, peak ${mib((upload.rss.rootKb ?? 0) * 1024)} MiB; ` +
      `with its hook processes (node) peak ${mib(upload.rss.nodeKb * 1024)} MiB, git children peak ${mib(upload.rss.gitKb * 1024)} MiB`);
  }
  if (results.control) out.push(passThroughLines('control, local store', results.control));
  if (results.s3) out.push(passThroughLines('S3 store (s3rver)', results.s3));
  out.push('');
  if (results.failures.length > 0) {
    out.push(`FAILURES (${results.failures.length}):`);
    for (const failure of results.failures) out.push(`  ${failure}`);
    out.push('');
  }
  out.push(...summaryLines(options, results));
  process.stdout.write(`${out.join('\n')}\n`);
}

type PickTransfer = (round: Round) => Transfer | undefined;

function okSeconds(transfer: Transfer | undefined): number | undefined {
  return transfer?.ok ? transfer.seconds : undefined;
}

/** The rounds in which this transfer succeeded, with that round's ratio to its own reference. */
function succeeded(result: SetResult, pick: PickTransfer): Array<{ transfer: Transfer; ratio: number }> {
  return result.rounds.flatMap((round) => {
    const transfer = pick(round);
    return transfer?.ok ? [{ transfer, ratio: referenceSeconds(round.reference) / transfer.seconds }] : [];
  });
}

function throughputCell(bytes: number, secs: number): string {
  return `${secs.toFixed(2)} s  ${rate(bytes, secs)} MiB/s`;
}

function medianCell(result: SetResult, pick: PickTransfer): string {
  const ok = succeeded(result, pick);
  if (ok.length === 0) return 'FAILED';
  return `${throughputCell(result.set.bytes, median(ok.map((o) => o.transfer.seconds)))}  x${median(ok.map((o) => o.ratio)).toFixed(2)}`;
}

function cpuCell(result: SetResult, pick: PickTransfer): string {
  const ok = succeeded(result, pick);
  if (ok.length === 0) return '-';
  return `${median(ok.map((o) => o.transfer.clientCpu)).toFixed(2)} / ${median(ok.map((o) => o.transfer.serverCpu)).toFixed(2)} s`;
}

/** The round whose upload or download grew mlgit's RSS the most. */
function rssCell(result: SetResult, pick: PickTransfer): string {
  const transfers = result.rounds.map(pick).filter((t): t is Transfer => t !== undefined);
  if (transfers.length === 0) return '-';
  const growth = (t: Transfer): number => (t.rss.rootKb ?? 0) - t.baselineKb;
  const worst = transfers.reduce((a, b) => (growth(b) > growth(a) ? b : a));
  const git = Math.max(...transfers.map((t) => t.rss.maxGitProcesses));
  return `${mib(worst.baselineKb * 1024)} / ${mib((worst.rss.rootKb ?? 0) * 1024)} MiB${git > 0 ? ` (+${git} git)` : ''}`;
}

function passThroughLines(label: string, result: PassThrough): string {
  const lines = [`${label}: ${mib(result.bytes)} MiB object, git push ${result.ok ? `${result.seconds.toFixed(2)} s (${rate(result.bytes, result.seconds)} MiB/s)` : 'FAILED'}`];
  lines.push(`  bytes through mlgit: ${result.push.upstream} (object: ${result.bytes}), client->mlgit over ${result.push.connections} connection(s) via the counting proxy; mlgit->client ${result.push.downstream}`);
  if (result.io) lines.push(`  mlgit /proc/<pid>/io during the push: rchar +${result.io.rchar} (all reads, files included), wchar +${result.io.wchar}, write_bytes +${result.io.writeBytes}`);
  if (result.inS3 !== undefined) lines.push(`  object in s3rver's storage: ${result.inS3 ? 'yes' : 'NO'}`);
  if (result.fetch) {
    lines.push(`  download: git lfs fetch ${result.fetchSeconds?.toFixed(2)} s; bytes from mlgit: ${result.fetch.downstream} (object: ${result.bytes}), client->mlgit ${result.fetch.upstream}`);
  }
  return lines.join('\n');
}

function verdict(ok: boolean): string {
  return ok ? 'PASS' : 'MISS';
}

function summaryLines(options: Options, results: Results): string[] {
  const lines: string[] = [];
  for (const result of results.sets) {
    const refSecs = median(result.rounds.map((round) => referenceSeconds(round.reference)));
    const large = result === results.sets[0];
    for (const [kind, pick, target] of [
      ['upload', (round: Round) => round.upload, UPLOAD_TARGET],
      ['download', (round: Round) => round.download, DOWNLOAD_TARGET],
    ] as const) {
      const ok = succeeded(result, pick);
      if (ok.length === 0) {
        lines.push(`lfs ${result.set.repo} ${kind}: FAILED`);
        continue;
      }
      const ratio = median(ok.map((o) => o.ratio));
      const rounds = ok.length > 1 ? ` (median of ${ok.length} rounds: ${ok.map((o) => o.ratio.toFixed(2)).join(' ')})` : '';
      const goal = large ? ` target >= ${target.toFixed(2)} ${verdict(ratio >= target)}` : ' (no target)';
      lines.push(
        `lfs ${result.set.repo} ${kind}: mlgit ${rate(result.set.bytes, median(ok.map((o) => o.transfer.seconds)))} MiB/s vs reference ` +
          `${rate(result.set.bytes, refSecs)} MiB/s, ratio ${ratio.toFixed(2)}${rounds}${goal}`,
      );
    }
  }
  if (results.rss) {
    const { upload } = results.rss;
    const growthMb = ((upload.rss.rootKb ?? 0) - upload.baselineKb) / 1024;
    lines.push(`lfs RSS during ${options.rssMb} MiB upload: mlgit node ${mib(upload.baselineKb * 1024)} -> peak ${mib((upload.rss.rootKb ?? 0) * 1024)} MiB, ` +
      `growth ${growthMb.toFixed(1)} MB (target < ${RSS_GROWTH_TARGET_MB} MB) ${upload.ok ? verdict(growthMb < RSS_GROWTH_TARGET_MB) : 'FAILED'}`);
  }
  if (results.control) lines.push(`lfs local store (control): bytes through mlgit: ${results.control.push.upstream} (object: ${results.control.bytes})`);
  if (results.s3) lines.push(`lfs S3 store: bytes through mlgit: ${results.s3.push.upstream} (object: ${results.s3.bytes})${results.s3.ok ? '' : ' FAILED'}`);
  lines.push(`transfer failures: ${results.failures.length}`);
  return lines;
}

await runBenchMain('lfs benchmark', main);
