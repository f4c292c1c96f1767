import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseThreshold, type Goal } from '../domain/compare.ts';
import { DomainError } from '../domain/errors.ts';
import type { Repo } from '../domain/model.ts';
import type { Run } from '../domain/runs/model.ts';
import type { Web } from './context.ts';
import { downsampleMinMax } from './downsample.ts';
import { headerFor, readableRepo, type RepoParams } from './repo-pages.ts';
import { metricsPage, type MetricChart, type MetricPoint, type MetricsSort } from './views/metrics.ts';

/** Points per series the chart gets (the table and the CSV have every point). */
export const CHART_POINTS = 1500;
const MAX_REFS = 4;
const MAX_KEYS = 8;
const DEFAULT_KEYS = 4;
const RECENT_RUNS = 50;
const MAX_JOBS_READ = 10;

type List = string | string[] | undefined;
type MetricsQuery = { ref?: List; key?: List; job?: string; sort?: string; dir?: string; format?: string };

/** Trimmed, non-empty, distinct values of a repeatable query parameter. */
function many(value: List, cap: number): string[] {
  const values = (Array.isArray(value) ? value : value === undefined ? [] : [value]).map((v) => v.trim()).filter((v) => v !== '' && v.length <= 200);
  return [...new Set(values)].slice(0, cap);
}

/** Metrics across the commits of one or more branches: charts, their table twins, and CSV. */
export function registerMetricsRoutes(app: FastifyInstance, web: Web): void {
  const { runs } = web.deps;

  /** Jobs with runs on the branch, and the metric names of each job's latest successful run. */
  async function available(repo: Repo, ref: string, job: string | null) {
    const recent = (await runs.list(repo, { ref, ...(job ? { job } : {}) }, RECENT_RUNS, 0)).runs;
    const jobs = [...new Set(recent.map((r) => r.job))].sort();
    const latest = new Map<string, Run>();
    for (const run of recent) if ((run.status === 'success' || run.status === 'cached') && !latest.has(run.job)) latest.set(run.job, run);
    const picked = [...latest.values()].slice(0, MAX_JOBS_READ);
    const details = await Promise.all(picked.map((run) => runs.detail(repo, run.id)));
    const keys = [...new Set(details.flatMap((d) => Object.keys(d.metrics)))].sort();
    const primaries = picked.map((run) => run.spec.primary).filter((p): p is string => !!p && keys.includes(p));
    return { jobs, keys, primaries: [...new Set(primaries)] };
  }

  /** The goal, baseline value and threshold line of a metric, from the newest run's manifest. */
  async function rules(repo: Repo, key: string, newest: MetricPoint | undefined) {
    if (!newest) return { goal: null, baseline: null, threshold: null };
    const run = await runs.run(repo, newest.run);
    const declared = Object.hasOwn(run.spec.goals, key) ? run.spec.goals[key]! : null;
    const rule = run.spec.compare?.thresholds && Object.hasOwn(run.spec.compare.thresholds, key) ? run.spec.compare.thresholds[key]! : null;
    const goal: Goal | null = declared ?? (rule?.max_drop !== undefined ? 'maximize' : rule?.max_rise !== undefined ? 'minimize' : null);
    let baseValue = run.comparison?.metrics.find((m) => m.metric === key)?.base ?? null;
    const baselineRef = run.comparison?.baseline?.ref ?? run.spec.compare?.baseline ?? null;
    if (baseValue === null && baselineRef && rule) {
      try {
        baseValue = (await runs.commitMetrics(repo, baselineRef)).jobs.find((j) => j.run.job === run.job)?.metrics[key] ?? null;
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
      }
    }
    const baseline = baseValue !== null && baselineRef ? { value: baseValue, label: `baseline (${baselineRef})` } : null;
    const side = goal === 'maximize' ? 'max_drop' : goal === 'minimize' ? 'max_rise' : null;
    const raw = side && rule ? rule[side] : undefined;
    let threshold = null;
    if (baseline && side && raw !== undefined) {
      try {
        const allowance = parseThreshold(key, side, raw);
        const amount = allowance.relative ? (Math.abs(baseline.value) * allowance.amount) / 100 : allowance.amount;
        threshold = { value: side === 'max_drop' ? baseline.value - amount : baseline.value + amount, label: allowance.text };
      } catch {
        threshold = null;
      }
    }
    return { goal, baseline, threshold };
  }

  async function chart(repo: Repo, key: string, refs: string[], job: string | null): Promise<MetricChart> {
    const histories = await Promise.all(refs.map((ref) => runs.history(repo, key, ref, job)));
    // One series per branch and job; x = the commit's place among all commits shown (by date, then first seen).
    const order = new Map<string, { date: number; seen: number }>();
    const series: { ref: string; job: string; points: Omit<MetricPoint, 'x'>[] }[] = [];
    histories.forEach((history, i) => {
      const byJob = new Map<string, Omit<MetricPoint, 'x'>[]>();
      for (const p of history.points) {
        if (!order.has(p.commit)) order.set(p.commit, { date: Date.parse(p.date) || 0, seen: order.size });
        const point = { commit: p.commit, title: p.message ?? '', date: p.date, ref: refs[i]!, job: p.job, run: p.run, value: p.value };
        byJob.set(p.job, [...(byJob.get(p.job) ?? []), point]);
      }
      for (const [name, points] of byJob) series.push({ ref: refs[i]!, job: name, points });
    });
    const ranked = [...order].sort((a, b) => a[1].date - b[1].date || a[1].seen - b[1].seen);
    const xOf = new Map(ranked.map(([sha], x) => [sha, x]));
    const full = series.map((s) => ({ ...s, points: s.points.map((p) => ({ ...p, x: xOf.get(p.commit)! })) }));
    const newest = full[0]?.points.at(-1);
    const { goal, baseline, threshold } = await rules(repo, key, newest);
    const all = full.flatMap((s) => s.points);
    let best: MetricPoint | null = null;
    // The best point only where the manifest says which way is better.
    if (goal) for (const p of all) if (!best || (goal === 'minimize' ? p.value < best.value : p.value > best.value)) best = p;
    return {
      key,
      goal,
      baseline,
      threshold,
      best,
      commits: ranked.length,
      series: full.map((s) => ({ ref: s.ref, job: s.job, total: s.points.length, points: downsampleMinMax(s.points, (p) => p.value, CHART_POINTS) })),
      rows: all,
    };
  }

  app.get<{ Params: RepoParams; Querystring: MetricsQuery }>('/:owner/:repo/metrics', async (request, reply) => {
    const repo = await readableRepo(web, request);
    if (!repo) return reply.callNotFound();
    const refs = many(request.query.ref, MAX_REFS);
    if (refs.length === 0) refs.push(repo.defaultBranch);
    const job = request.query.job?.trim() || null;
    const offered = await available(repo, refs[0]!, job);
    let keys = many(request.query.key, MAX_KEYS);
    if (keys.length === 0) keys = offered.primaries.length > 0 ? offered.primaries.slice(0, DEFAULT_KEYS) : offered.keys.slice(0, DEFAULT_KEYS);
    const charts = await Promise.all(keys.map((key) => chart(repo, key, refs, job)));
    const sort = readSort(request.query.sort, request.query.dir);
    if (request.query.format === 'csv') return sendCsv(reply, repo, charts);
    const page = metricsPage({ header: await headerFor(web, request, reply, repo, 'metrics'), refs, job, keys, offered, charts, sort, chartJs: web.assets.url('chart.js') });
    return web.page(request, reply, `Metrics · ${repo.owner}/${repo.name}`, page);
  });
}

function readSort(sort: string | undefined, dir: string | undefined): MetricsSort {
  const by = sort === 'value' || sort === 'date' || sort === 'branch' ? sort : 'commit';
  return { by, dir: dir === 'desc' ? 'desc' : 'asc' };
}

/** A CSV cell: quoted, and text a spreadsheet would run as a formula (=, +, -, @) prefixed with '. */
function cell(value: string | number): string {
  if (typeof value === 'number') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return `"${safe.replace(/"/g, '""')}"`;
}

function sendCsv(reply: FastifyReply, repo: Repo, charts: MetricChart[]): FastifyReply {
  const lines = ['metric,branch,job,commit,date,title,run,value'];
  for (const c of charts) for (const p of c.rows) lines.push([c.key, p.ref, p.job, p.commit, p.date, p.title, p.run, p.value].map(cell).join(','));
  const name = `${repo.owner}-${repo.name}-metrics.csv`.replace(/[^A-Za-z0-9._-]/g, '_');
  return reply
    .header('Content-Security-Policy', "default-src 'none'; sandbox")
    .type('text/csv; charset=utf-8')
    .header('Cache-Control', 'private, no-cache')
    .header('Content-Disposition', `attachment; filename="${name}"`)
    .send(lines.join('\r\n') + '\r\n');
}
