/**
 * Web UI page times against the JSON API serving the same data (issue 10).
 *
 *   node --import tsx bench/web.ts [--commits 10000] [--files 1000] [--runs 300] [--steps 1000] [--requests 200] [--log-mb 100]
 *
 * mlgit runs in this process (buildApp on a fresh Postgres database, the process runtime). The
 * repository is built with `git fast-import` (`--commits` commits over `--files` files in one
 * folder, a model card, a manifest whose `train` job copies a metrics file) and pushed with git;
 * the push's own run gives a real run row, which is copied onto `--runs` commits with 5 summary
 * metrics and 5 x `--steps` step points each (SQL); one run gets a `--log-mb` log. Then, per view:
 * the first request (cold: the view's caches empty; the renderers' packages load in the background
 * once the server has served a page, here the sign-in form), then `--requests` requests (warm) of
 * the page and of its JSON counterpart in turns, timed on the client over loopback. The counterpart
 * asks the API for the data the page shows, where the API has an endpoint for it (the diff of the
 * commit page, for one, has none). Printed: p50/p95 of both, the ratio, the JavaScript the page
 * loads (gzip), the bytes the run page of the big log sends, and the load average.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { buildApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { createTestDatabase } from '../test/helpers/postgres.ts';
import { cleanupOnSignals, onCleanup, runBenchMain } from './lib/cleanup.ts';
import { isolatedGitEnv } from './lib/git-env.ts';
import { parseKnobs } from './lib/options.ts';
import { runChecked } from './lib/run.ts';

const KNOBS = {
  commits: { flag: 'commits', env: 'BENCH_COMMITS', fallback: 10_000, min: 2 },
  files: { flag: 'files', env: 'BENCH_FILES', fallback: 1000, min: 1 },
  runs: { flag: 'runs', env: 'BENCH_RUNS', fallback: 300, min: 2 },
  steps: { flag: 'steps', env: 'BENCH_STEPS', fallback: 1000, min: 1 },
  requests: { flag: 'requests', env: 'BENCH_REQUESTS', fallback: 200, min: 5 },
  logMb: { flag: 'log-mb', env: 'BENCH_LOG_MB', fallback: 100, min: 1 },
};
const METRICS = ['accuracy', 'loss', 'f1_macro', 'precision', 'recall'];
const TARGET_WARM_P95_MS = 100;
const TARGET_COLD_MS = 250;
const TARGET_RATIO = 1.5;
const TARGET_JS_KB = { plain: 20, chart: 60 };
const TARGET_RUN_PAGE_BYTES = 1_000_000;

const CARD = `---
license: mit
library_name: scikit-learn
pipeline_tag: image-classification
tags: [digits, bench]
---
# Bench model

A model card with a table and code.

| metric | value |
|---|---|
| accuracy | 0.97 |

\`\`\`python
from sklearn.svm import SVC
model = SVC(gamma=0.001)
\`\`\`
`;
const MANIFEST = `version: 1
name: bench
image: localhost/mlgit-python:bookworm
jobs:
  train:
    kind: train
    command: cp m.json metrics.json
    metrics: {path: metrics.json, format: json, primary: accuracy, goals: {accuracy: maximize, loss: minimize}}
    timeout: 1m
triggers:
  push: {branches: [main]}
`;

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** `--commits` commits through fast-import: each changes one of `--files` Python files in files/. */
async function buildRepo(dir: string, commits: number, files: number, env: NodeJS.ProcessEnv): Promise<void> {
  await runChecked('git', ['init', '-q', '-b', 'main', dir], { env });
  const child = spawn('git', ['fast-import', '--quiet'], { cwd: dir, env, stdio: ['pipe', 'inherit', 'inherit'] });
  const write = (text: string) => (child.stdin.write(text) ? Promise.resolve() : once(child.stdin, 'drain').then(() => undefined));
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  const file = (i: number, version: number) => `"""File ${i}, version ${version}."""\n\ndef value() -> int:\n    return ${version}\n\n\nprint(value() + ${i})\n`;
  for (let c = 0; c < commits; c++) {
    const when = 1_700_000_000 + c * 60;
    let text = `commit refs/heads/main\nmark :${c + 1}\ncommitter Bench <bench@example.com> ${when} +0000\n${data(`change ${c}: file ${c % files}`)}${c > 0 ? `from :${c}\n` : ''}`;
    if (c === 0) {
      text += `M 100644 inline README.md\n${data(CARD)}M 100644 inline mlproject.yaml\n${data(MANIFEST)}M 100644 inline m.json\n${data(JSON.stringify({ accuracy: 0.9, loss: 0.2 }))}`;
      for (let i = 0; i < files; i++) text += `M 100644 inline files/f${String(i).padStart(4, '0')}.py\n${data(file(i, 0))}`;
    } else {
      const i = c % files;
      text += `M 100644 inline files/f${String(i).padStart(4, '0')}.py\n${data(file(i, c))}`;
    }
    await write(text + '\n');
  }
  child.stdin.end();
  const [code] = (await once(child, 'exit')) as [number];
  if (code !== 0) throw new Error(`git fast-import exited with ${code}`);
}

interface Timed {
  readonly ms: number;
  readonly bytes: number;
  readonly status: number;
  readonly body: string;
}

async function timed(url: string, headers: Record<string, string>): Promise<Timed> {
  const start = performance.now();
  const response = await fetch(url, { headers, redirect: 'manual' });
  const buffer = Buffer.from(await response.arrayBuffer());
  return { ms: performance.now() - start, bytes: buffer.length, status: response.status, body: buffer.toString('utf8') };
}

async function main(): Promise<number> {
  cleanupOnSignals();
  const options = parseKnobs(process.argv.slice(2), process.env, KNOBS, {});
  const database = await createTestDatabase();
  onCleanup(() => database.drop());
  const work = await mkdtemp(path.join(os.tmpdir(), 'mlgit-bench-web-'));
  onCleanup(() => rm(work, { recursive: true, force: true }));
  const env = await isolatedGitEnv(work);
  const config = loadConfig(
    { MLGIT_DATA_DIR: path.join(work, 'data'), MLGIT_ADMIN_PASSWORD: 'bench-admin-password', MLGIT_LOG_LEVEL: 'warn', MLGIT_RUNTIME: 'process' },
    { databaseUrl: database.url, host: '127.0.0.1', port: 0 },
  );
  const { app, services } = await buildApp(config);
  onCleanup(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const adminAuth = { authorization: `Basic ${Buffer.from('admin:bench-admin-password').toString('base64')}` };

  process.stdout.write(`building ${options.commits} commits over ${options.files} files...\n`);
  const repoDir = path.join(work, 'repo');
  await buildRepo(repoDir, options.commits, options.files, env);
  const created = await fetch(`${base}/api/v1/repos`, { method: 'POST', headers: { ...adminAuth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench', description: 'the web benchmark' }) });
  if (created.status !== 201) throw new Error(`create repo: ${created.status}`);
  await runChecked('git', ['push', '-q', `http://admin:bench-admin-password@127.0.0.1:${new URL(base).port}/admin/bench.git`, 'main'], { cwd: repoDir, env });
  const repo = (await services.repos.authorize(null, 'admin', 'bench', 'read')).repo;
  const head = (await runChecked('git', ['rev-parse', 'HEAD'], { cwd: repoDir, env })).stdout.trim();

  process.stdout.write('waiting for the push run...\n');
  const deadline = Date.now() + 120_000;
  let real: { id: number; status: string } | undefined;
  while (Date.now() < deadline) {
    real = await services.db.selectFrom('runs').select(['id', 'status']).where('repo_id', '=', repo.id).executeTakeFirst();
    if (real && ['success', 'failed', 'error'].includes(real.status)) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (!real || real.status !== 'success') throw new Error(`the push run did not succeed: ${JSON.stringify(real)}`);

  process.stdout.write(`seeding ${options.runs} runs x ${METRICS.length} metrics x ${options.steps} steps...\n`);
  const shas = (await runChecked('git', ['rev-list', '--first-parent', `--max-count=${options.runs}`, 'main'], { cwd: repoDir, env })).stdout.trim().split('\n').slice(1);
  await sql`insert into runs (repo_id, commit_sha, ref, dispatch_id, project, job_id, job, kind, trigger, status, spec, depends_on, created_by, runner, exit_code, created_at, enqueued_at, started_at, finished_at)
    select r.repo_id, s.sha, r.ref, r.dispatch_id || '-' || s.n, r.project, r.job_id, r.job, r.kind, r.trigger, r.status, r.spec, r.depends_on, r.created_by, r.runner, r.exit_code,
      r.created_at - s.n * interval '1 minute', r.enqueued_at - s.n * interval '1 minute', r.started_at - s.n * interval '1 minute', r.finished_at - s.n * interval '1 minute'
    from runs r, unnest(${shas}::text[]) with ordinality as s(sha, n) where r.id = ${real.id}`.execute(services.db);
  await sql`delete from run_metrics where run_id in (select id from runs where repo_id = ${repo.id})`.execute(services.db);
  await sql`insert into run_metrics (run_id, key, value) select r.id, k, random() from runs r, unnest(${METRICS}::text[]) k where r.repo_id = ${repo.id}`.execute(services.db);
  await sql`insert into run_metric_points (run_id, key, step, value) select r.id, k, s, random() from runs r, unnest(${METRICS}::text[]) k, generate_series(1, ${options.steps}) s where r.repo_id = ${repo.id}`.execute(services.db);
  await sql`analyze`.execute(services.db);
  const bigRun = real.id;
  const line = `step ${'x'.repeat(60)} \u001b[32mok\u001b[0m <b>html</b>\n`;
  const lines = Math.ceil((options.logMb * 1_000_000) / line.length);
  await services.runs.logs.append(
    bigRun,
    Readable.from(
      (function* () {
        for (let i = 0; i < lines; i += 1000) yield line.repeat(Math.min(1000, lines - i));
      })(),
    ),
    options.logMb * 2_000_000,
  );

  // A session for the settings page (admins only): sign in through the form.
  const loginForm = await fetch(`${base}/login`);
  const cookie = loginForm.headers.getSetCookie()[0]!.split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await loginForm.text())![1]!;
  const signedIn = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, username: 'admin', password: 'bench-admin-password' }).toString(),
    redirect: 'manual',
  });
  const session = { cookie: signedIn.headers.getSetCookie()[0]!.split(';')[0]!, accept: 'text/html' };

  const tailOffset = Math.max(0, (await services.runs.logs.size(bigRun)) - 256 * 1024);
  const r = '/admin/bench';
  const api = '/api/v1/repos/admin/bench';
  const parent = shas[1]!;
  const file = 'files/f0007.py';
  // The newest run on main: explore shows it and its commit's headline metric; the metrics page offers its metrics.
  const latest = ((await (await fetch(`${base}${api}/runs?ref=main&per_page=1`, { headers: adminAuth })).json()) as { id: number; commit: string }[])[0]!;
  // [view, page, JSON requests for the same data, a chart page]
  const views: [string, string, string[], boolean][] = [
    ['explore', '/explore?q=bench', ['/api/v1/repos?q=bench', `${api}/runs?ref=main&per_page=1`, `${api}/commits/${latest.commit}/metrics`], false],
    ['model home', r, [api, `${api}/blob/main/README.md`, `${api}/runs?ref=main&per_page=1`], false],
    // The files pages' ref picker, the runs page's branch filter and settings' default branch list the refs.
    ['tree (1000 entries)', `${r}/tree/main/files`, [`${api}/tree/main/files`, `${api}/refs`], false],
    ['file', `${r}/blob/main/${file}`, [`${api}/blob/main/${file}`, `${api}/refs`], false],
    ['commits', `${r}/commits/main`, [`${api}/commits?ref=main&limit=50`, `${api}/runs?ref=main&per_page=50`], false],
    // The commit page also lists the runs of the commit.
    ['commit', `${r}/commit/${shas[0]}`, [`${api}/commits?ref=${shas[0]}&limit=1`, `${api}/metrics/compare?base=${parent}&head=${shas[0]}`, `${api}/runs?commit=${shas[0]}&per_page=100`], false],
    ['runs', `${r}/runs`, [`${api}/runs?per_page=50`, `${api}/refs`], false],
    // The page shows the log's last 256 KiB: the API's counterpart reads the same bytes with ?offset=.
    [`run (${options.logMb} MB log)`, `${r}/runs/${bigRun}`, [`${api}/runs/${bigRun}`, `${api}/runs/${bigRun}/logs?offset=${tailOffset}`], true],
    // The metrics page also offers the jobs of the branch's recent runs and the metrics of each job's latest one.
    ['metrics', `${r}/metrics?ref=main&key=accuracy`, [`${api}/metrics/history?key=accuracy&ref=main`, `${api}/runs?ref=main&per_page=50`, `${api}/runs/${latest.id}`], true],
    // The page also diffs the manifest of both commits.
    ['compare', `${r}/compare/${parent}...${head}`, [`${api}/metrics/compare?base=${parent}&head=${head}`, `${api}/blob/${parent}/mlproject.yaml`, `${api}/blob/${head}/mlproject.yaml`], true],
    ['settings', `${r}/settings`, [api, `${api}/collaborators`, `${api}/hooks`, `${api}/refs`], false],
    ['badge', `${r}/badges/main/train.svg`, [`${api}/commits/main/status`], false],
  ];

  const gzipped = new Map<string, number>();
  const scriptBytes = async (html: string) => {
    let total = 0;
    for (const [, src] of html.matchAll(/<script src="([^"]+)"/g)) {
      if (!gzipped.has(src!)) gzipped.set(src!, gzipSync(Buffer.from(await (await fetch(base + src)).arrayBuffer())).length);
      total += gzipped.get(src!)!;
    }
    return total;
  };

  const rows: string[][] = [];
  let failures = 0;
  const mark = (ok: boolean) => {
    if (!ok) failures++;
    return ok ? '' : ' ✗';
  };
  const loadAverage = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
  const loadBefore = loadAverage();
  process.stdout.write(`timing ${views.length} views, ${options.requests} requests each (page and API in turns), load average ${loadBefore}...\n`);
  for (const [name, page, jsonPaths, chart] of views) {
    const cold = await timed(base + page, session);
    if (cold.status !== 200) throw new Error(`${name}: ${page} answered ${cold.status}`);
    for (const p of jsonPaths) {
      const first = await timed(base + p, adminAuth);
      if (first.status !== 200) throw new Error(`${name}: ${p} answered ${first.status}`);
    }
    const pageMs: number[] = [];
    const apiMs: number[] = [];
    for (let i = 0; i < options.requests; i++) {
      pageMs.push((await timed(base + page, session)).ms);
      let sum = 0;
      for (const p of jsonPaths) sum += (await timed(base + p, adminAuth)).ms;
      apiMs.push(sum);
    }
    const [p50, p95, a50, a95] = [percentile(pageMs, 50), percentile(pageMs, 95), percentile(apiMs, 50), percentile(apiMs, 95)];
    const js = await scriptBytes(cold.body);
    const jsLimit = (chart ? TARGET_JS_KB.chart : TARGET_JS_KB.plain) * 1000;
    rows.push([
      name,
      `${cold.ms.toFixed(1)}${mark(cold.ms < TARGET_COLD_MS)}`,
      p50.toFixed(1),
      `${p95.toFixed(1)}${mark(p95 < TARGET_WARM_P95_MS)}`,
      a50.toFixed(1),
      a95.toFixed(1),
      `${(p50 / a50).toFixed(2)}${mark(p50 / a50 <= TARGET_RATIO)}`,
      `${(js / 1000).toFixed(1)}${mark(js <= jsLimit)}`,
      `${(cold.bytes / 1000).toFixed(0)}${name.startsWith('run (') ? mark(cold.bytes < TARGET_RUN_PAGE_BYTES) : ''}`,
    ]);
  }
  const header = ['view', 'cold ms', 'p50 ms', 'p95 ms', 'API p50', 'API p95', 'p50 ratio', 'JS gz KB', 'page KB'];
  const table = [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
  process.stdout.write(`\n${options.commits} commits, ${options.files} files, ${options.runs} runs x ${METRICS.length} metrics x ${options.steps} steps, a ${options.logMb} MB log; ${options.requests} warm requests per view; times on the client over loopback; load average (1, 5, 15 min) ${loadBefore} before, ${loadAverage()} after.\n`);
  process.stdout.write(`targets: warm p95 < ${TARGET_WARM_P95_MS} ms, cold < ${TARGET_COLD_MS} ms, page/API p50 <= ${TARGET_RATIO}, JS <= ${TARGET_JS_KB.plain} KB (charts ${TARGET_JS_KB.chart} KB), run page < 1 MB; ✗ marks a miss.\n\n${table}\n`);
  await writeFile(path.join(work, 'table.md'), table);
  process.stdout.write(`\n${failures === 0 ? 'all targets met' : `${failures} target(s) missed`}\n`);
  return 0;
}

await runBenchMain('bench:web', main);
