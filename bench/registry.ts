/**
 * Model registry benchmark (issue 11): `mlgit serve` as an operator runs it (embedded PGlite, the
 * process runtime), a project whose train job writes a model of `--size-mb` random bytes, pushed
 * twice with the real git client, so two versions are registered by the runs themselves. Then,
 * each against a reference measured in the same run:
 *
 *  (a) registration: from the run's finish to its version row (both server timestamps);
 *  (b) download by alias (`.../aliases/latest/download`) against the existing run-output route
 *      (`.../runs/:id/outputs/model.bin`, same bytes, same store) and against reading the stored
 *      file straight from disk; MB/s medians and ratios;
 *  (c) `--ranges` random 64 KiB Range reads by alias: p50 and p99;
 *  (d) `--moves` sequential alias moves (compare-and-set row + history + ref update) against a
 *      bare `git update-ref` of the same kind of ref (the floor: one git process), p50 and ratio;
 *  (e) `--race-rounds` rounds of 20 concurrent movers from one expectation: exactly one winner
 *      each round (exit 1 otherwise) and the time until all 20 have their answer.
 *
 *   node --import tsx bench/registry.ts [--size-mb 64] [--rounds 5] [--ranges 300] [--moves 100] [--race-rounds 10]
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cleanupOnSignals, onCleanup, runBenchMain } from './lib/cleanup.ts';
import { freePort } from './lib/free-port.ts';
import { isolatedGitEnv } from './lib/git-env.ts';
import { BENCH_ADMIN, startMlgit } from './lib/mlgit-server.ts';
import { parseKnobs, type Knob } from './lib/options.ts';
import { runChecked } from './lib/run.ts';
import { median } from './lib/stats.ts';

const KNOBS = {
  sizeMb: { flag: 'size-mb', env: 'BENCH_REGISTRY_SIZE_MB', fallback: 64, min: 1 },
  rounds: { flag: 'rounds', env: 'BENCH_REGISTRY_ROUNDS', fallback: 5, min: 1 },
  ranges: { flag: 'ranges', env: 'BENCH_REGISTRY_RANGES', fallback: 300, min: 1 },
  moves: { flag: 'moves', env: 'BENCH_REGISTRY_MOVES', fallback: 100, min: 2 },
  raceRounds: { flag: 'race-rounds', env: 'BENCH_REGISTRY_RACE_ROUNDS', fallback: 10, min: 1 },
} as const satisfies Record<string, Knob>;

const REPO = 'admin/bench-registry';
const AUTH = `Basic ${Buffer.from(`${BENCH_ADMIN.user}:${BENCH_ADMIN.password}`).toString('base64')}`;
const RANGE_BYTES = 64 * 1024;
const RACERS = 20;

const manifest = `version: 1
name: bench-registry
image: localhost/mlgit-python:bookworm
jobs:
  train:
    kind: train
    command: python3 train.py
    inputs: [train.py, round.txt]
    outputs: [{path: model.bin, type: model}]
    metrics: {path: metrics.json, format: json}
    timeout: 10m
models:
  bench:
    from: train
    path: model.bin
`;
const trainPy = (sizeMb: number) => `import json, os
with open(os.path.join(os.environ['MLP_OUTPUT_DIR'], 'model.bin'), 'wb') as f:
    for _ in range(${sizeMb}):
        f.write(os.urandom(1024 * 1024))
json.dump({'accuracy': 0.9}, open('metrics.json', 'w'))
`;

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** The fields of a version (GET .../versions) the bench reads. */
interface Version {
  version: number;
  run_id: number;
  commit: string;
  sha256: string;
  size: number;
  created_at: string;
}

async function api<T = unknown>(base: string, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${urlPath}`, {
    method,
    headers: { authorization: AUTH, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 600_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not there after ${timeoutMs / 1000}s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Streams a response or a file to its end; bytes, seconds and the sha256 of what came. */
async function drain(source: AsyncIterable<Uint8Array>): Promise<{ bytes: number; seconds: number; sha256: string }> {
  const start = process.hrtime.bigint();
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of source) {
    bytes += chunk.length;
    hash.update(chunk);
  }
  return { bytes, seconds: Number(process.hrtime.bigint() - start) / 1e9, sha256: hash.digest('hex') };
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function download(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers: { authorization: AUTH, ...headers } });
  if (!response.ok || !response.body) throw new Error(`GET ${url}: ${response.status}`);
  return drain(response.body as unknown as AsyncIterable<Uint8Array>);
}

async function main(): Promise<number> {
  cleanupOnSignals();
  const o = parseKnobs(process.argv.slice(2), process.env, KNOBS, {});
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mlgit-bench-registry-'));
  onCleanup(() => rm(scratch, { recursive: true, force: true }));
  const env = await isolatedGitEnv(scratch);
  const server = await startMlgit({ repoRoot: process.cwd(), dataDir: path.join(scratch, 'data'), port: await freePort(), adminPassword: BENCH_ADMIN.password, env: { MLGIT_RUNTIME: 'process' } });
  onCleanup(() => server.stop());
  const base = server.url;
  const created = await api(base, 'POST', '/api/v1/repos', { name: 'bench-registry' });
  if (created.status !== 201) throw new Error(`create repo: ${created.status}`);

  // Two pushes, two versions, registered by the runs.
  const work = path.join(scratch, 'work');
  await mkdir(work);
  const git = (args: string[]) => runChecked('git', args, { cwd: work, env: { ...env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'b@x' } });
  await git(['init', '-q', '-b', 'main']);
  await writeFile(path.join(work, 'mlproject.yaml'), manifest);
  await writeFile(path.join(work, 'train.py'), trainPy(o.sizeMb));
  const remote = new URL(`${base}/${REPO}.git`);
  remote.username = BENCH_ADMIN.user;
  remote.password = BENCH_ADMIN.password;
  for (const round of [1, 2]) {
    await writeFile(path.join(work, 'round.txt'), `${round}\n`);
    await git(['add', '-A']);
    await git(['commit', '-q', '-m', `round ${round}`]);
    await git(['push', '-q', remote.toString(), 'main']);
    await until(`version ${round}`, async () => {
      const versions = await api<Version[]>(base, 'GET', `/api/v1/repos/${REPO}/models/bench/versions`);
      return Array.isArray(versions.body) && versions.body.length >= round ? versions.body : null;
    });
  }
  const versions = (await api<Version[]>(base, 'GET', `/api/v1/repos/${REPO}/models/bench/versions`)).body;
  const latest = versions[0]!;

  // (a) registration after the run's end.
  const registration: number[] = [];
  for (const v of versions) {
    const run = (await api<{ finished_at: string }>(base, 'GET', `/api/v1/repos/${REPO}/runs/${v.run_id}`)).body;
    registration.push(new Date(v.created_at).getTime() - new Date(run.finished_at).getTime());
  }
  console.log(`(a) registration: version row ${registration.map((ms) => `${ms} ms`).join(', ')} after its run finished`);

  // (b) downloads: registry by alias, the run-output route, the stored file read from disk.
  const storeFile = path.join(server.dataDir, 'lfs', latest.sha256.slice(0, 2), latest.sha256.slice(2, 4), latest.sha256);
  const ways: Record<string, () => Promise<{ bytes: number; seconds: number; sha256: string }>> = {
    'registry alias download': () => download(`${base}/api/v1/repos/${REPO}/models/bench/aliases/latest/download`),
    'run output download (reference)': () => download(`${base}/api/v1/repos/${REPO}/runs/${latest.run_id}/outputs/model.bin`),
    'file read from disk (reference)': () => drain(createReadStream(storeFile, { highWaterMark: 1024 * 1024 })),
  };
  // Interleaved, round by round, so a burst of load on the shared machine hits every way alike.
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(ways).map((name) => [name, []]));
  for (let i = 0; i < o.rounds; i += 1) {
    for (const [name, fetchIt] of Object.entries(ways)) {
      const got = await fetchIt();
      if (got.sha256 !== latest.sha256 || got.bytes !== latest.size) throw new Error(`${name}: wrong bytes (${got.bytes}, ${got.sha256})`);
      samples[name]!.push(got.bytes / 1048576 / got.seconds);
    }
  }
  const rates: Record<string, number> = {};
  for (const name of Object.keys(ways)) {
    rates[name] = median(samples[name]!);
    console.log(`(b) ${name}: ${rates[name].toFixed(0)} MB/s median of ${o.rounds} (${o.sizeMb} MiB)`);
  }
  console.log(`(b) ratio registry / run-output route: ${(rates['registry alias download']! / rates['run output download (reference)']!).toFixed(2)}; registry / disk: ${(rates['registry alias download']! / rates['file read from disk (reference)']!).toFixed(2)}`);

  // (c) random 64 KiB ranges.
  const rangeMs: number[] = [];
  for (let i = 0; i < o.ranges; i += 1) {
    const start = Math.floor(Math.random() * (latest.size - RANGE_BYTES));
    rangeMs.push(await timed(() => download(`${base}/api/v1/repos/${REPO}/models/bench/aliases/latest/download`, { range: `bytes=${start}-${start + RANGE_BYTES - 1}` })));
  }
  console.log(`(c) ${o.ranges} Range reads of 64 KiB: p50 ${median(rangeMs).toFixed(1)} ms, p99 ${percentile(rangeMs, 99).toFixed(1)} ms`);

  // (d) sequential moves against a bare git update-ref of an alias-like ref.
  let expected: number | null = null;
  const moveMs: number[] = [];
  for (let i = 0; i < o.moves; i += 1) {
    const target: number = i % 2 === 0 ? 1 : 2;
    const body = { version: target, expected_version: expected };
    let status = 0;
    moveMs.push(await timed(async () => (status = (await api(base, 'PUT', `/api/v1/repos/${REPO}/models/bench/aliases/production`, body)).status)));
    if (status !== 200) throw new Error(`move ${i}: ${status}`);
    expected = target;
  }
  const bare = path.join(scratch, 'bare.git');
  await runChecked('git', ['init', '-q', '--bare', bare], { env });
  const shas = versions.map((v) => v.commit);
  await git(['push', '-q', bare, 'main']);
  const refMs: number[] = [];
  let old = '0'.repeat(40);
  for (let i = 0; i < o.moves; i += 1) {
    const next = shas[i % 2]!;
    refMs.push(await timed(() => runChecked('git', ['update-ref', 'refs/models/bench/aliases/production', next, old], { cwd: bare, env })));
    old = next;
  }
  console.log(`(d) ${o.moves} alias moves: p50 ${median(moveMs).toFixed(1)} ms, p99 ${percentile(moveMs, 99).toFixed(1)} ms; bare git update-ref (reference): p50 ${median(refMs).toFixed(1)} ms; ratio ${(median(moveMs) / median(refMs)).toFixed(2)}`);

  // (e) 20 concurrent movers per round from one expectation.
  const settle: number[] = [];
  let failures = 0;
  for (let round = 0; round < o.raceRounds; round += 1) {
    const target: number = expected === 1 ? 2 : 1;
    let statuses: number[] = [];
    settle.push(await timed(async () => {
      statuses = (await Promise.all(Array.from({ length: RACERS }, () => api(base, 'PUT', `/api/v1/repos/${REPO}/models/bench/aliases/production`, { version: target, expected_version: expected })))).map((r) => r.status);
    }));
    const winners = statuses.filter((s) => s === 200).length;
    const others = statuses.filter((s) => s !== 200 && s !== 409).length;
    if (winners !== 1 || others !== 0) {
      failures += 1;
      console.log(`(e) round ${round + 1}: ${winners} winners, ${others} unexpected answers (${statuses.join(',')})`);
    }
    expected = target;
  }
  console.log(`(e) ${o.raceRounds} rounds of ${RACERS} concurrent moves: ${o.raceRounds - failures} with exactly one winner; all answered in a median of ${median(settle).toFixed(0)} ms`);
  return failures === 0 ? 0 : 1;
}

await runBenchMain('bench:registry', main);
