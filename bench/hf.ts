/**
 * Hugging Face Hub API benchmark (issue 12): the official JavaScript client, @huggingface/hub,
 * against mlgit, next to the stock git-lfs client against the same mlgit, in one run.
 *
 *   node --import tsx bench/hf.ts [--big-mb 1024] [--rounds 3] [--files 5000] [--info-calls 200]
 *                                 [--rps 100] [--rps-seconds 30]
 *
 * (or BENCH_HF_BIG_MB, BENCH_HF_ROUNDS, BENCH_HF_FILES, BENCH_HF_INFO_CALLS, BENCH_HF_RPS,
 * BENCH_HF_RPS_SECONDS). mlgit runs as `npm start` runs it (embedded defaults, local store).
 *   1. one random LFS object (--big-mb) pushed with git + git-lfs; per round, alternating order:
 *      `git lfs pull` of it into a fresh GIT_LFS_SKIP_SMUDGE clone (the reference) and
 *      `downloadFile` + streaming its Blob to a file (what downloadFileToCacheDir does);
 *      ratio = reference seconds / downloadFile seconds (target >= 0.9), median of rounds;
 *   2. a repo with --files small files: `modelInfo` called --info-calls times after a warm-up,
 *      p50/p95/max (target p95 < 100 ms), and the first (cold) call;
 *   3. `resolve` of random small files of that repo, open loop at --rps for --rps-seconds: the
 *      rate achieved, p50/p99 (target p99 < 50 ms) and failures.
 * Exits non-zero only when a transfer fails or bytes differ; missed targets are reported.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { downloadFile, modelInfo } from '@huggingface/hub';
import { cleanupOnSignals, onCleanup, runBenchMain } from './lib/cleanup.ts';
import { freePort } from './lib/free-port.ts';
import { isolatedGitEnv } from './lib/git-env.ts';
import { createLfsWorkRepo, installLfs, withIdentity } from './lib/lfs-repo.ts';
import { basicAuth, BENCH_ADMIN, createRepo, startMlgit, type MlgitServer } from './lib/mlgit-server.ts';
import { parseKnobs, type Knob } from './lib/options.ts';
import { writeRandomFile } from './lib/random-data.ts';
import { runChecked } from './lib/run.ts';
import { median } from './lib/stats.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const TARGETS = { downloadRatio: 0.9, infoP95Ms: 100, resolveP99Ms: 50 };

const KNOBS = {
  bigMb: { flag: 'big-mb', env: 'BENCH_HF_BIG_MB', fallback: 1024, min: 1 },
  rounds: { flag: 'rounds', env: 'BENCH_HF_ROUNDS', fallback: 3, min: 1 },
  files: { flag: 'files', env: 'BENCH_HF_FILES', fallback: 5000, min: 1 },
  infoCalls: { flag: 'info-calls', env: 'BENCH_HF_INFO_CALLS', fallback: 200, min: 1 },
  rps: { flag: 'rps', env: 'BENCH_HF_RPS', fallback: 100, min: 1 },
  rpsSeconds: { flag: 'rps-seconds', env: 'BENCH_HF_RPS_SECONDS', fallback: 30, min: 1 },
} as const satisfies Record<string, Knob>;

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;
const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** An mlgit token of the admin, in the `hf_` form the HF clients require. */
async function hubToken(server: MlgitServer): Promise<string> {
  const response = await fetch(`${server.url}/api/v1/user/tokens`, {
    method: 'POST',
    headers: { authorization: basicAuth(BENCH_ADMIN.user, BENCH_ADMIN.password), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench-hf', scopes: ['read', 'write'] }),
  });
  if (response.status !== 201) throw new Error(`token: ${response.status} ${await response.text()}`);
  return `hf_${((await response.json()) as { token: string }).token}`;
}

async function main(): Promise<number> {
  const options = parseKnobs(process.argv.slice(2), process.env, KNOBS, {});
  cleanupOnSignals();
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mlgit-bench-hf-'));
  onCleanup(() => rm(scratch, { recursive: true, force: true }));
  const env = withIdentity(await isolatedGitEnv(scratch));
  const lfsVersion = await installLfs(env);
  const server = await startMlgit({ repoRoot: ROOT, dataDir: path.join(scratch, 'data'), port: await freePort(), adminPassword: BENCH_ADMIN.password });
  onCleanup(() => server.stop());
  const accessToken = await hubToken(server);
  const hubUrl = server.url;
  const auth = basicAuth(BENCH_ADMIN.user, BENCH_ADMIN.password);
  const remote = (name: string) => {
    const url = new URL(`${server.url}/${BENCH_ADMIN.user}/${name}.git`);
    url.username = BENCH_ADMIN.user;
    url.password = BENCH_ADMIN.password;
    return url.toString();
  };
  const hubVersion = (JSON.parse(await readFile(path.join(ROOT, 'node_modules/@huggingface/hub/package.json'), 'utf8')) as { version: string }).version;
  process.stdout.write(`mlgit ${hubUrl}, ${lfsVersion}, @huggingface/hub ${hubVersion}\n`);

  // 1. One big LFS object: downloadFile against git lfs pull.
  const big = await writeRandomFile(path.join(scratch, 'objects', 'weights.bin'), options.bigMb * MiB);
  await createRepo(server, 'big', auth);
  const work = await createLfsWorkRepo(path.join(scratch, 'big-work'), [big], remote('big'), env);
  await runChecked('git', ['push', '-q', 'origin', 'main'], { cwd: work.dir, env });
  const lfsPull = async (round: number) => {
    const dir = path.join(scratch, `pull-${round}`);
    await runChecked('git', ['clone', '-q', remote('big'), dir], { env: { ...env, GIT_LFS_SKIP_SMUDGE: '1' } });
    const pulled = await runChecked('git', ['lfs', 'pull'], { cwd: dir, env });
    const ok = (await sha256File(path.join(dir, 'data', 'weights.bin'))) === big.oid;
    await rm(dir, { recursive: true, force: true });
    if (!ok) throw new Error('git lfs pull: wrong bytes');
    return pulled.seconds;
  };
  const hfDownload = async (round: number) => {
    const file = path.join(scratch, `hf-${round}.bin`);
    const started = performance.now();
    const blob = await downloadFile({ repo: `${BENCH_ADMIN.user}/big`, path: 'data/weights.bin', hubUrl, accessToken });
    if (!blob) throw new Error('downloadFile: no such file');
    await pipeline(Readable.fromWeb(blob.stream() as ReadableStream), createWriteStream(file));
    const seconds = (performance.now() - started) / 1000;
    const ok = (await sha256File(file)) === big.oid;
    await rm(file, { force: true });
    if (!ok) throw new Error('downloadFile: wrong bytes');
    return seconds;
  };
  const ratios: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    // Alternating order, so neither side always gets the warmer page cache.
    let reference: number;
    let hf: number;
    if (round % 2 === 0) {
      reference = await lfsPull(round);
      hf = await hfDownload(round);
    } else {
      hf = await hfDownload(round);
      reference = await lfsPull(round);
    }
    ratios.push(reference / hf);
    process.stdout.write(`  round ${round + 1}: git lfs pull ${reference.toFixed(2)} s, downloadFile ${hf.toFixed(2)} s (${((options.bigMb * MiB) / MiB / hf).toFixed(0)} MiB/s), ratio ${(reference / hf).toFixed(2)}\n`);
  }
  const ratio = median(ratios);

  // 2. modelInfo of a repo with many files.
  await createRepo(server, 'many', auth);
  const many = path.join(scratch, 'many-work');
  await runChecked('git', ['init', '-q', '-b', 'main', many], { env });
  for (let i = 0; i < options.files; i++) {
    const dir = path.join(many, 'files', String(i % 50));
    if (i < 50) await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `${i}.txt`), `file ${i}\n`);
  }
  await writeFile(path.join(many, 'README.md'), '---\nlibrary_name: bench\ntags: [bench]\n---\n# many files\n');
  await runChecked('git', ['add', '-A'], { cwd: many, env });
  await runChecked('git', ['commit', '-q', '-m', 'many files'], { cwd: many, env });
  await runChecked('git', ['push', '-q', remote('many'), 'main'], { cwd: many, env });
  const timeInfo = async () => {
    const started = performance.now();
    const info = await modelInfo({ name: `${BENCH_ADMIN.user}/many`, hubUrl, additionalFields: ['sha', 'filePaths'] });
    if (info.filePaths?.length !== options.files + 1) throw new Error(`modelInfo listed ${info.filePaths?.length} files`);
    return performance.now() - started;
  };
  const cold = await timeInfo();
  for (let i = 0; i < 10; i++) await timeInfo();
  const infoTimes: number[] = [];
  for (let i = 0; i < options.infoCalls; i++) infoTimes.push(await timeInfo());
  const infoP95 = percentile(infoTimes, 95);

  // 3. resolve of small files, open loop at a fixed rate.
  const latencies: number[] = [];
  let failures = 0;
  const total = options.rps * options.rpsSeconds;
  const started = performance.now();
  const calls: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / options.rps;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const n = Math.floor(Math.random() * options.files);
    const sent = performance.now();
    calls.push(
      fetch(`${hubUrl}/${BENCH_ADMIN.user}/many/resolve/main/files/${n % 50}/${n}.txt`).then(
        async (response) => {
          const body = await response.text();
          if (response.status !== 200 || body !== `file ${n}\n`) failures++;
          latencies.push(performance.now() - sent);
        },
        () => void failures++,
      ),
    );
  }
  await Promise.all(calls);
  const achieved = total / ((performance.now() - started) / 1000);
  const resolveP99 = percentile(latencies, 99);

  process.stdout.write('\n| | mlgit | reference | figure | target |\n|---|---|---|---|---|\n');
  process.stdout.write(`| ${options.bigMb} MiB LFS file, median of ${options.rounds} | downloadFile | git lfs pull | ratio ${ratio.toFixed(2)} | >= ${TARGETS.downloadRatio} (${mark(ratio >= TARGETS.downloadRatio)}) |\n`);
  process.stdout.write(`| modelInfo, ${options.files + 1} files, ${options.infoCalls} calls | p50 ${ms(percentile(infoTimes, 50))}, p95 ${ms(infoP95)}, max ${ms(Math.max(...infoTimes))} (cold ${ms(cold)}) | | p95 ${ms(infoP95)} | < ${TARGETS.infoP95Ms} ms (${mark(infoP95 < TARGETS.infoP95Ms)}) |\n`);
  process.stdout.write(
    `| resolve, ${options.rps}/s for ${options.rpsSeconds} s | ${achieved.toFixed(1)}/s achieved, p50 ${ms(percentile(latencies, 50))}, p99 ${ms(resolveP99)}, ${failures} failures | | p99 ${ms(resolveP99)} | < ${TARGETS.resolveP99Ms} ms (${mark(resolveP99 < TARGETS.resolveP99Ms && failures === 0)}) |\n`,
  );
  return failures === 0 ? 0 : 1;
}

await runBenchMain('bench:hf', main);
