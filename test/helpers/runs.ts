import { loadConfig, type RunsConfig } from '../../server/config.ts';
import type { GitClient } from './git-client.ts';
import { startServer, type TestServer } from './server.ts';

export const FINAL = ['success', 'failed', 'cancelled', 'timed_out', 'cached', 'error'];
import { JOB_IMAGE } from './podman.ts';

export const IMAGE = JOB_IMAGE;

/** Runs settings for tests: quick heartbeats and stall detection, the given runtime. */
export function runsConfig(overrides: Partial<RunsConfig> = {}): RunsConfig {
  return { ...loadConfig({}).runs, heartbeatMs: 200, stallTimeoutMs: 3000, ...overrides };
}

export async function startRunsServer(
  t: Parameters<typeof startServer>[0],
  runs: Partial<RunsConfig>,
  extra: Parameters<typeof startServer>[1] = {},
): Promise<TestServer> {
  return startServer(t, { ...extra, config: { ...extra.config, runs: runsConfig(runs) } });
}

/** Creates `owner/name` (owner = a user made for it) and pushes one commit with `files`; returns the sha. */
export async function pushProject(
  server: TestServer,
  client: GitClient,
  user: { username: string; basic: string },
  name: string,
  files: Record<string, string | Buffer>,
  pushArgs: string[] = [],
): Promise<{ dir: string; sha: string; push: { code: number | null; stderr: string } }> {
  const created = await server.api('POST', '/api/v1/repos', { auth: user.basic, body: { name } });
  if (created.status !== 201) throw new Error(`create repo: ${created.status} ${JSON.stringify(created.body)}`);
  const dir = await client.workRepo(name, [files]);
  const sha = (await client.ok(['rev-parse', 'HEAD'], { cwd: dir })).trim();
  await client.ok(['remote', 'add', 'origin', server.gitUrl(user.username, name, user.basic)], { cwd: dir });
  const push = await client.run(['push', ...pushArgs, 'origin', 'main'], { cwd: dir });
  return { dir, sha, push };
}

/** Polls the runs of a commit until `done` says so (default: every run is final). */
export async function waitForRuns(
  server: TestServer,
  auth: string,
  repo: string,
  sha: string,
  options: { count?: number; done?: (runs: any[]) => boolean; timeoutMs?: number } = {},
): Promise<any[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const done = options.done ?? ((runs: any[]) => runs.length >= (options.count ?? 1) && runs.every((r) => FINAL.includes(r.status)));
  let runs: any[] = [];
  while (Date.now() < deadline) {
    const response = await server.api('GET', `/api/v1/repos/${repo}/runs?commit=${sha}&per_page=100`, { auth });
    runs = response.body as any[];
    if (Array.isArray(runs) && done(runs)) return runs.sort((a, b) => a.id - b.id);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`runs of ${sha.slice(0, 7)} did not settle: ${JSON.stringify(runs.map((r) => [r.job, r.status, r.message]))}`);
}

/**
 * Polls until `ready` holds. A run turns final before its results land (metric rows, baseline
 * comparison, note are written right after), so a test about results waits for them, not for
 * the status, and never for a fixed time.
 */
export async function eventually<T>(probe: () => Promise<T>, ready: (value: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ready(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not there after ${timeoutMs} ms; last: ${JSON.stringify(value)?.slice(0, 2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

export function manifest(body: string): string {
  return `version: 1\nname: test-project\nimage: ${IMAGE}\n${body}`;
}
