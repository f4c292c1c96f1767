/**
 * Push benchmark (issue 15): `git push` of a small commit to an existing repository, mlgit against
 * git's own `git http-backend` (the clone bench's reference server), with the same client and the
 * same commits, in one run:
 *
 *  (a) a one-file commit, token in the remote URL;
 *  (b) the same with the password;
 *  (c) a commit whose mlproject.yaml starts a job (timed until `git push` returns; the run itself
 *      is waited for untimed, so it does not compete with the next push);
 *  (d) a commit with one 1 MiB Git LFS file, git-lfs's pre-push upload included. http-backend has
 *      no LFS, so its reference is the same push with the file as a plain blob.
 *
 * Each round alternates which server goes first; medians. mlgit runs with MLGIT_LOG_LEVEL=debug and
 * the breakdown comes from its "git timings" lines (server/http/git/git-timeline.ts), not guesses.
 *
 *   node --import tsx bench/push.ts [--rounds 15] [--warmup 2]
 *
 * BENCH_DATABASE_URL selects Postgres (default: embedded PGlite). Exits non-zero only when a push fails.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupOnSignals, onCleanup, runBenchMain } from './lib/cleanup.ts';
import { freePort } from './lib/free-port.ts';
import { isolatedGitEnv } from './lib/git-env.ts';
import { gitTimingsTap, type GitTimingsTap } from './lib/git-timings.ts';
import { startHttpBackend } from './lib/http-backend-server.ts';
import { installLfs, withIdentity } from './lib/lfs-repo.ts';
import { basicAuth, BENCH_ADMIN, createRepo, startMlgit, type MlgitServer } from './lib/mlgit-server.ts';
import { parseKnobs, type Knob } from './lib/options.ts';
import { writeRandomFile } from './lib/random-data.ts';
import { FINAL_STATUSES, type RunSummary } from './lib/run-summary.ts';
import { abortRunningCommands, runChecked, type RunResult } from './lib/run.ts';
import { median } from './lib/stats.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KNOBS = {
  rounds: { flag: 'rounds', env: 'BENCH_ROUNDS', fallback: 15, min: 1 },
  warmup: { flag: 'warmup', env: 'BENCH_WARMUP', fallback: 2, min: 0 },
} as const satisfies Record<string, Knob>;
const TARGET_RATIO = 1.5;
const LFS_FILE_BYTES = 1024 * 1024;
const OWNER = BENCH_ADMIN.user;
const MANIFEST = `version: 1
name: push-bench
image: python:3.11-slim
cache: false
jobs:
  train:
    kind: train
    command: "true"
`;
// The order phases happen in during a push (server/http/git/smart-http.ts, hook-routes.ts).
const PHASE_ORDER = [
  'auth',
  'authorize',
  'git.advertise-refs',
  'git.before-pre-receive',
  'hook.pre-receive.start',
  'api.pre-receive',
  'git.after-pre-receive',
  'post-receive',
  'answer',
];

/** A working repository and git in it, with the bench's isolated environment. */
interface Work {
  readonly dir: string;
  git(...args: string[]): Promise<RunResult>;
}

interface PushCase {
  readonly key: string;
  readonly title: string;
  /** Commits what this round pushes (untimed). */
  prepare(round: number): Promise<void>;
  pushMlgit(): Promise<RunResult>;
  pushReference(): Promise<RunResult>;
  /** Untimed work after both pushes (waiting for the runs a push started). */
  settle?(): Promise<void>;
}

interface Samples {
  readonly mlgit: number[];
  readonly reference: number[];
  readonly phases: Map<string, number>[];
  lastMlgitStderr: string;
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function main(): Promise<number> {
  const options = parseKnobs(process.argv.slice(2), process.env, KNOBS, {});
  cleanupOnSignals();
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mlgit-bench-push-'));
  onCleanup(() => rm(scratch, { recursive: true, force: true, maxRetries: 3 }));
  onCleanup(async () => abortRunningCommands());
  const env = withIdentity(await isolatedGitEnv(scratch));
  const lfsVersion = await installLfs(env);

  const tap = gitTimingsTap();
  const server = await startMlgit({
    repoRoot: ROOT,
    dataDir: path.join(scratch, 'mlgit-data'),
    port: await freePort(),
    adminPassword: BENCH_ADMIN.password,
    env: { MLGIT_LOG_LEVEL: 'debug', MLGIT_RUNTIME: 'process' },
    onLine: (line) => tap.onLine(line),
  });
  onCleanup(() => server.stop());
  const referenceRoot = path.join(scratch, 'reference');
  const reference = await startHttpBackend(referenceRoot, { env, challengePushes: true });
  onCleanup(() => reference.close());
  log(`mlgit at ${server.url}, git http-backend at ${reference.url}`);

  const cases = await setUpCases(scratch, env, server, reference.url, referenceRoot);
  await tap.clear();
  const samples = new Map(cases.map((c) => [c.key, { mlgit: [], reference: [], phases: [], lastMlgitStderr: '' } as Samples]));
  for (let round = -options.warmup; round < options.rounds; round += 1) {
    for (const pushCase of cases) {
      await measureRound(pushCase, round, tap, round < 0 ? undefined : samples.get(pushCase.key));
    }
    if (round >= 0) log(`round ${round + 1}/${options.rounds} done`);
  }
  printReport(options.rounds, lfsVersion, cases, samples);
  return 0;
}

async function measureRound(pushCase: PushCase, round: number, tap: GitTimingsTap, samples: Samples | undefined): Promise<void> {
  await pushCase.prepare(round);
  const mlgitFirst = round % 2 === 0;
  for (const side of mlgitFirst ? ['mlgit', 'reference'] : ['reference', 'mlgit']) {
    // runChecked: a failed push stops the bench with git's message.
    const result = side === 'mlgit' ? await pushCase.pushMlgit() : await pushCase.pushReference();
    if (side === 'mlgit') {
      const phases = await tap.takePush();
      if (samples) {
        samples.mlgit.push(result.seconds);
        samples.phases.push(phases);
        samples.lastMlgitStderr = result.stderr;
      }
    } else {
      samples?.reference.push(result.seconds);
    }
  }
  await pushCase.settle?.();
}

async function setUpCases(scratch: string, env: NodeJS.ProcessEnv, server: MlgitServer, referenceUrl: string, referenceRoot: string): Promise<PushCase[]> {
  const password = basicAuth(OWNER, BENCH_ADMIN.password);
  const token = await createToken(server, password);
  const remote = (name: string, secret: string) => {
    const url = new URL(`${server.url}/${OWNER}/${name}.git`);
    url.username = OWNER;
    url.password = secret;
    return url.href;
  };
  for (const name of ['plain', 'train', 'lfs']) await createRepo(server, name, password);
  for (const name of ['plain', 'train', 'blob']) await referenceRepo(referenceRoot, name, env);
  // Credentials in the URL as for mlgit: the reference challenges pushes without them.
  const referenceRemote = (name: string) => {
    const url = new URL(`${referenceUrl}/${name}.git`);
    url.username = OWNER;
    url.password = 'reference';
    return url.href;
  };

  const plain = await workRepo(scratch, 'plain', env, { token: remote('plain', token), password: remote('plain', BENCH_ADMIN.password), reference: referenceRemote('plain') });
  const train = await workRepo(scratch, 'train', env, { mlgit: remote('train', token), reference: referenceRemote('train') }, { 'mlproject.yaml': MANIFEST });
  const lfs = await workRepo(scratch, 'lfs', env, { mlgit: remote('lfs', token) }, {}, true);
  const blob = await workRepo(scratch, 'blob', env, { reference: referenceRemote('blob') });

  const push = (work: Work, remoteName: string) => () => work.git('push', remoteName, 'main');
  const oneFile = (key: string) => (round: number) => commitFile(plain, 'round.txt', `${key} ${round}\n`);
  let lastTrainCommit = '';
  const runsAuth = basicAuth(OWNER, token);
  return [
    { key: 'token', title: '(a) one-file commit, token', prepare: oneFile('token'), pushMlgit: push(plain, 'token'), pushReference: push(plain, 'reference') },
    { key: 'password', title: '(b) one-file commit, password', prepare: oneFile('password'), pushMlgit: push(plain, 'password'), pushReference: push(plain, 'reference') },
    {
      key: 'manifest',
      title: '(c) commit whose mlproject.yaml starts a job',
      prepare: async (round) => {
        await commitFile(train, 'round.txt', `${round}\n`);
        lastTrainCommit = (await train.git('rev-parse', 'HEAD')).stdout.trim();
      },
      pushMlgit: push(train, 'mlgit'),
      pushReference: push(train, 'reference'),
      settle: () => waitForRuns(server, 'train', lastTrainCommit, runsAuth),
    },
    {
      key: 'lfs',
      title: '(d) commit with one 1 MiB LFS file',
      prepare: async (round) => {
        const file = await writeRandomFile(path.join(scratch, 'random', `${round + 1000}.bin`), LFS_FILE_BYTES);
        for (const work of [lfs, blob]) await copyFile(file.path, path.join(work.dir, 'model.bin'));
        await lfs.git('add', 'model.bin');
        await lfs.git('commit', '-q', '-m', `model ${round}`);
        await blob.git('add', 'model.bin');
        await blob.git('commit', '-q', '-m', `model ${round}`);
      },
      pushMlgit: push(lfs, 'mlgit'),
      pushReference: push(blob, 'reference'),
    },
  ];
}

async function createToken(server: MlgitServer, authorization: string): Promise<string> {
  const res = await fetch(`${server.url}/api/v1/user/tokens`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench-push', scopes: ['read', 'write'] }),
  });
  const body = (await res.json()) as { token?: unknown };
  if (res.status !== 201 || typeof body.token !== 'string') throw new Error(`POST /api/v1/user/tokens: ${res.status} ${JSON.stringify(body)}`);
  return body.token;
}

/** A bare repo served by http-backend that accepts pushes from any user who gives credentials (it checks none). */
async function referenceRepo(root: string, name: string, env: NodeJS.ProcessEnv): Promise<void> {
  const dir = path.join(root, `${name}.git`);
  await runChecked('git', ['init', '-q', '--bare', '-b', 'main', dir], { env });
  await runChecked('git', ['config', 'http.receivepack', 'true'], { cwd: dir, env });
}

/**
 * A working repo with a first commit pushed to every remote untimed, so the timed pushes go to
 * existing repositories. With `lfs`, `*.bin` is tracked (git-lfs installs its pre-push hook).
 */
async function workRepo(scratch: string, name: string, env: NodeJS.ProcessEnv, remotes: Record<string, string>, files: Record<string, string> = {}, lfs = false): Promise<Work> {
  const dir = path.join(scratch, 'work', name);
  await mkdir(dir, { recursive: true });
  const work: Work = { dir, git: (...args) => runChecked('git', args, { cwd: dir, env }) };
  await work.git('init', '-q', '-b', 'main');
  if (lfs) await work.git('lfs', 'track', '*.bin');
  for (const [file, text] of Object.entries({ 'README.md': `${name}\n`, ...files })) await writeFile(path.join(dir, file), text);
  await work.git('add', '-A');
  await work.git('commit', '-q', '-m', 'first');
  for (const [remoteName, url] of Object.entries(remotes)) {
    await work.git('remote', 'add', remoteName, url);
    await work.git('push', '-q', remoteName, 'main');
  }
  return work;
}

async function commitFile(work: Work, file: string, text: string): Promise<void> {
  await writeFile(path.join(work.dir, file), text);
  await work.git('add', file);
  await work.git('commit', '-q', '-m', `update ${file}`);
}

/** Until every run of the commit has ended, so the embedded runner is idle for the next push. */
async function waitForRuns(server: MlgitServer, repo: string, sha: string, authorization: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${server.url}/api/v1/repos/${OWNER}/${repo}/runs?commit=${sha}`, { headers: { authorization } });
    const runs = (await res.json()) as RunSummary[];
    if (runs.length > 0 && runs.every((r) => FINAL_STATUSES.includes(r.status))) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the runs of ${sha.slice(0, 7)} did not end within 120 s`);
}

const ms = (seconds: number) => `${(seconds * 1000).toFixed(0)} ms`;

function printReport(rounds: number, lfsVersion: string, cases: readonly PushCase[], samples: ReadonlyMap<string, Samples>): void {
  const out = ['', `push benchmark (${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs, ${lfsVersion}, ${rounds} rounds, medians)`, ''];
  for (const pushCase of cases) {
    const s = samples.get(pushCase.key)!;
    const mlgit = median(s.mlgit);
    const reference = median(s.reference);
    const ratio = mlgit / reference;
    const note = pushCase.key === 'lfs' ? ' (reference: the same push with the file as a plain blob; http-backend has no LFS)' : '';
    out.push(`${pushCase.title}: mlgit ${ms(mlgit)} vs http-backend ${ms(reference)} ratio ${ratio.toFixed(2)} (target <= ${TARGET_RATIO}: ${ratio <= TARGET_RATIO ? 'meets' : 'MISSES'})${note}`);
  }
  const runLinks = (samples.get('manifest')?.lastMlgitStderr ?? '').split('\n').filter((l) => /^remote: mlgit: queued run \d+/.test(l));
  out.push(`(c) remote: lines naming queued runs in the last push: ${runLinks.length ? runLinks.join(' | ') : 'none'}`);
  out.push('', breakdownTable(cases, samples));
  process.stdout.write(`${out.join('\n')}\n`);
}

/**
 * Median ms per phase and case. Phases with a "/" are parts of the phase before them (not added
 * again); "client and network" is what the server's phases do not cover (the git client, git-lfs).
 */
function breakdownTable(cases: readonly PushCase[], samples: ReadonlyMap<string, Samples>): string {
  const seen = new Set<string>(PHASE_ORDER);
  for (const s of samples.values()) for (const phases of s.phases) for (const phase of phases.keys()) seen.add(phase);
  const phases = [...seen].sort((a, b) => rank(a) - rank(b));
  const header = 'mlgit time per push (ms, median)'.padEnd(40) + cases.map((c) => `(${c.title.slice(1, 2)})`.padStart(9)).join('');
  const rows = [header];
  const cell = (values: number[]) => (values.length ? median(values).toFixed(1) : '-').padStart(9);
  for (const phase of phases) {
    const label = phase.includes('/') ? `    ${phase.slice(phase.indexOf('/') + 1)}` : `  ${phase}`;
    rows.push(label.padEnd(40) + cases.map((c) => cell(samples.get(c.key)!.phases.flatMap((p) => (p.has(phase) ? [p.get(phase)!] : [])))).join(''));
  }
  const rest = (s: Samples) => s.phases.map((p, i) => s.mlgit[i]! * 1000 - [...p].filter(([name]) => !name.includes('/')).reduce((sum, [, v]) => sum + v, 0));
  rows.push('  client and network (rest)'.padEnd(40) + cases.map((c) => cell(rest(samples.get(c.key)!))).join(''));
  rows.push('  whole push'.padEnd(40) + cases.map((c) => cell(samples.get(c.key)!.mlgit.map((v) => v * 1000))).join(''));
  return rows.join('\n');
}

/** Known phases in push order, each sub-phase right after its parent, unknown ones last. */
function rank(phase: string): number {
  const parent = phase.split('/')[0]!;
  const index = PHASE_ORDER.indexOf(parent);
  return (index < 0 ? PHASE_ORDER.length : index) * 100 + (phase.includes('/') ? 1 : 0);
}

await runBenchMain('bench:push', main);
