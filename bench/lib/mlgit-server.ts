import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Runs mlgit the way an operator would (`node scripts/mlgit.mjs serve`, embedded PGlite, fresh
 * data dir) and drives it through its public REST API only: the bench must not depend on internals.
 */
export interface MlgitServer {
  readonly url: string;
  readonly pid: number;
  readonly dataDir: string;
  /** Last lines mlgit printed, to explain a failure. */
  outputTail(): string;
  stop(): Promise<void>;
}

export interface MlgitStartOptions {
  readonly repoRoot: string;
  readonly dataDir: string;
  readonly port: number;
  readonly adminPassword: string;
  readonly startTimeoutMs?: number;
  /** Extra environment (e.g. the S3_* store settings), applied over the defaults above. */
  readonly env?: NodeJS.ProcessEnv;
  /** Sees every output line first; returning true keeps it off the console (e.g. debug logs the bench parses). */
  readonly onLine?: (line: string) => boolean;
}

const OUTPUT_TAIL_LINES = 100;

/** The admin both benchmarks create their mlgit with (MLGIT_ADMIN_PASSWORD). */
export const BENCH_ADMIN = { user: 'admin', password: 'bench-admin-pw' } as const;

export async function startMlgit(options: MlgitStartOptions): Promise<MlgitServer> {
  // The object store is the bench's choice: S3_* settings of the developer's shell must not leak in.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('S3_')));
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    MLGIT_DATA_DIR: options.dataDir,
    PORT: String(options.port),
    MLGIT_ADMIN_PASSWORD: options.adminPassword,
    MLGIT_LOG_LEVEL: 'warn',
    ...options.env,
  };
  // Embedded PGlite by default: a developer's DATABASE_URL must not point the bench at a real
  // database. BENCH_DATABASE_URL (a scratch database) measures the production configuration.
  delete env.DATABASE_URL;
  if (process.env.BENCH_DATABASE_URL) env.DATABASE_URL = process.env.BENCH_DATABASE_URL;
  // Own process group, so stop() also reaches anything mlgit forks (a re-exec'd node, git children).
  // With the flag `npm start` gives it (scripts/mlgit.mjs says why).
  const child = spawn(process.execPath, ['--max-semi-space-size=2', 'scripts/mlgit.mjs', 'serve'], {
    cwd: options.repoRoot,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn mlgit');
  const tail: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    // A chunk can end mid-line; the unfinished line waits for the next chunk.
    let partial = '';
    stream.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines.filter(Boolean)) {
        if (options.onLine?.(line)) continue;
        process.stderr.write(`[mlgit] ${line}\n`);
        tail.push(line);
        if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
      }
    });
  }
  let stopping = false;
  // A server that dies mid-benchmark otherwise shows up only as "fetch failed" in some later step.
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`[mlgit] pid ${pid} exited unexpectedly (${signal ?? `exit code ${code}`})\n`);
  });
  const server: MlgitServer = {
    url: `http://127.0.0.1:${options.port}`,
    pid,
    dataDir: options.dataDir,
    outputTail: () => tail.join('\n'),
    stop: () => {
      stopping = true;
      return stopGroup(child, pid);
    },
  };
  try {
    await waitHealthy(server.url, child, options.startTimeoutMs ?? 90_000);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`mlgit exited during startup (${child.signalCode ?? child.exitCode})`);
    }
    const status = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
      (res) => res.status,
      () => 0, // not listening yet
    );
    if (status === 200) return;
    await sleep(250);
  }
  throw new Error(`mlgit did not answer GET /healthz with 200 within ${timeoutMs / 1000}s`);
}

async function stopGroup(child: ChildProcess, pid: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  killGroup(pid, 'SIGTERM');
  // A graceful shutdown drains connections; don't let a stuck one hold the bench forever.
  const graceful = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!graceful) {
    killGroup(pid, 'SIGKILL');
    await exited;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export interface CreatedRepo {
  readonly owner: string;
  readonly name: string;
  readonly cloneUrl: string;
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** POST /api/v1/repos as the given user; a public repo so clones need no credentials. */
export async function createRepo(server: MlgitServer, name: string, authorization: string): Promise<CreatedRepo> {
  const res = await fetch(`${server.url}/api/v1/repos`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ name, private: false }),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST /api/v1/repos ${name}: ${res.status} ${text}`);
  const body = JSON.parse(text) as { owner?: unknown; name?: unknown; clone_url?: unknown };
  const owner = typeof body.owner === 'string' ? body.owner : ownerLogin(body.owner);
  const repoName = typeof body.name === 'string' ? body.name : name;
  // Clone through the address the bench knows it listens on, not a configured public URL.
  return { owner, name: repoName, cloneUrl: `${server.url}/${owner}/${repoName}.git` };
}

// Tolerate `owner` being either a login or a {login} object: the shape is the API's business.
function ownerLogin(owner: unknown): string {
  if (typeof owner === 'object' && owner !== null && 'login' in owner && typeof owner.login === 'string') {
    return owner.login;
  }
  throw new Error(`unexpected owner in create-repo response: ${JSON.stringify(owner)}`);
}

export interface BareRepoOnDisk {
  readonly dir: string;
  readonly packs: number;
  readonly hasBitmap: boolean;
}

/**
 * Waits until mlgit's background repack has written a bitmap for the repo just pushed, so timings
 * compare a maintained repo with the equally repacked reference. mlgit's on-disk layout is private,
 * so the repo is found by a search: a bare repo under the data dir named after it, or else one not
 * already claimed by an earlier repo. Returns undefined on timeout; the bench then goes on regardless.
 */
export async function waitForBitmap(
  dataDir: string,
  name: string,
  claimed: ReadonlySet<string>,
  timeoutMs = 60_000,
): Promise<BareRepoOnDisk | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const repos = await findBareRepos(dataDir);
    const unclaimed = repos.filter((repo) => !claimed.has(repo.dir));
    const named = unclaimed.filter((repo) => path.basename(repo.dir).replace(/\.git$/, '') === name);
    const ready = (named.length > 0 ? named : unclaimed).find((repo) => repo.hasBitmap);
    if (ready) {
      // The bitmap is written with the new pack; give the repack a moment to delete the old ones.
      await sleep(1000);
      return (await findBareRepos(dataDir)).find((repo) => repo.dir === ready.dir) ?? ready;
    }
    await sleep(500);
  }
  return undefined;
}

export async function findBareRepos(dataDir: string): Promise<BareRepoOnDisk[]> {
  const reposRoot = path.join(dataDir, 'repos');
  const root = (await isDirectory(reposRoot)) ? reposRoot : dataDir;
  const found: BareRepoOnDisk[] = [];
  await walk(root, found, 0);
  return found;
}

async function walk(dir: string, found: BareRepoOnDisk[], depth: number): Promise<void> {
  if (depth > 6) return;
  const packDir = path.join(dir, 'objects', 'pack');
  if (await isDirectory(packDir)) {
    // A bare repo: don't descend into its objects.
    const files = await readdir(packDir).catch(() => [] as string[]);
    found.push({
      dir,
      packs: files.filter((file) => file.endsWith('.pack')).length,
      hasBitmap: files.some((file) => file.endsWith('.bitmap')),
    });
    return;
  }
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory()) await walk(path.join(dir, entry.name), found, depth + 1);
  }
}

async function isDirectory(target: string): Promise<boolean> {
  return stat(target).then((s) => s.isDirectory(), () => false);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Git LFS storage accounting of a repo (GET /api/v1/repos/:owner/:name, field `lfs`). */
export async function lfsUsage(server: MlgitServer, owner: string, name: string, authorization?: string): Promise<{ objects: number; bytes: number }> {
  const res = await fetch(`${server.url}/api/v1/repos/${owner}/${name}`, { headers: authorization ? { authorization } : {} });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /api/v1/repos/${owner}/${name}: ${res.status} ${text}`);
  const body = JSON.parse(text) as { lfs?: { objects?: unknown; bytes?: unknown } };
  const { objects, bytes } = body.lfs ?? {};
  if (typeof objects !== 'number' || typeof bytes !== 'number') throw new Error(`no lfs usage in the repo API response: ${text.slice(0, 300)}`);
  return { objects, bytes };
}
