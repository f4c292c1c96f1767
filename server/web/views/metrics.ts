import type { Goal } from '../../domain/compare.ts';
import type { Repo } from '../../domain/model.ts';
import { html, type Html } from '../html.ts';
import { jsonData } from '../render/json-data.ts';
import { repoPath, shortSha } from './parts.ts';
import { repoHeader, type RepoHeader } from './repo-header.ts';

export interface MetricPoint {
  readonly x: number;
  readonly commit: string;
  readonly title: string;
  readonly date: string;
  readonly ref: string;
  readonly job: string;
  readonly run: number;
  readonly value: number;
}

export interface MetricChart {
  readonly key: string;
  readonly goal: Goal | null;
  readonly baseline: { readonly value: number; readonly label: string } | null;
  readonly threshold: { readonly value: number; readonly label: string } | null;
  readonly best: MetricPoint | null;
  /** Commits on the x axis. */
  readonly commits: number;
  /** Downsampled for the chart; `total` = points before. */
  readonly series: readonly { readonly ref: string; readonly job: string; readonly total: number; readonly points: readonly MetricPoint[] }[];
  /** Every point, for the table and the CSV. */
  readonly rows: readonly MetricPoint[];
}

export interface MetricsSort {
  readonly by: 'commit' | 'value' | 'date' | 'branch';
  readonly dir: 'asc' | 'desc';
}

export interface MetricsView {
  readonly header: RepoHeader;
  readonly refs: readonly string[];
  readonly job: string | null;
  readonly keys: readonly string[];
  readonly offered: { readonly jobs: readonly string[]; readonly keys: readonly string[] };
  readonly charts: readonly MetricChart[];
  readonly sort: MetricsSort;
  readonly chartJs: string;
}

const MAX_REF_INPUTS = 4;

/** The page's own URL with other sort or format parameters. */
function selfUrl(view: MetricsView, extra: Record<string, string>): string {
  const query = new URLSearchParams();
  for (const ref of view.refs) query.append('ref', ref);
  for (const key of view.keys) query.append('key', key);
  if (view.job) query.set('job', view.job);
  for (const [name, value] of Object.entries(extra)) query.set(name, value);
  return `${repoPath(view.header.repo, 'metrics')}?${query}`;
}

export function formatValue(value: number | null): string {
  if (value === null) return '—';
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  return abs !== 0 && (abs < 1e-4 || abs >= 1e9) ? value.toExponential(4) : String(Number(value.toPrecision(6)));
}

function sorted(rows: readonly MetricPoint[], sort: MetricsSort): MetricPoint[] {
  const key = (p: MetricPoint): number | string => (sort.by === 'value' ? p.value : sort.by === 'date' ? Date.parse(p.date) || 0 : sort.by === 'branch' ? `${p.ref}\0${p.job}` : p.x);
  const out = rows.map((p, i) => ({ p, i }));
  out.sort((a, b) => {
    const ka = key(a.p);
    const kb = key(b.p);
    const c = ka < kb ? -1 : ka > kb ? 1 : a.i - b.i;
    return sort.dir === 'desc' ? -c : c;
  });
  return out.map((o) => o.p);
}

function sortHeader(view: MetricsView, by: MetricsSort['by'], label: string, type: 'num' | 'text'): Html {
  const on = view.sort.by === by;
  const dir = on && view.sort.dir === 'asc' ? 'desc' : 'asc';
  const aria = on ? (view.sort.dir === 'asc' ? 'ascending' : 'descending') : 'none';
  return html`<th aria-sort="${aria}" data-type="${type}"><a href="${selfUrl(view, { sort: by, dir })}" data-sort="${by}">${label}${on ? (view.sort.dir === 'asc' ? ' ▲' : ' ▼') : ''}</a></th>`;
}

function table(view: MetricsView, chart: MetricChart, index: number): Html {
  const repo: Repo = view.header.repo;
  const best = chart.best;
  const rows = sorted(chart.rows, view.sort);
  return html`<div class="table-wrap"><table class="metrics" id="table-${index}">
  <caption class="sr-only">${chart.key} by commit</caption>
  <thead><tr>${sortHeader(view, 'commit', '#', 'num')}<th>Commit</th>${sortHeader(view, 'branch', 'Branch / job', 'text')}${sortHeader(view, 'value', chart.key, 'num')}${sortHeader(view, 'date', 'Date', 'num')}</tr></thead>
  <tbody>
  ${rows.map(
    (p) => html`<tr data-x="${p.x}" data-value="${p.value}" data-date="${Date.parse(p.date) || 0}" data-branch="${p.ref} ${p.job}">
    <td class="num">${p.x + 1}</td>
    <td><a class="mono" href="${repoPath(repo, 'commit', p.commit)}">${shortSha(p.commit)}</a> <span class="title">${p.title}</span></td>
    <td>${p.ref} · <a href="${repoPath(repo, 'runs', String(p.run))}">${p.job}</a></td>
    <td class="num">${formatValue(p.value)}${best && p === best ? html` <span class="best" title="best">★</span>` : ''}</td>
    <td><time datetime="${p.date}">${p.date.slice(0, 10)}</time></td>
  </tr>`,
  )}
  </tbody>
</table></div>`;
}

function summary(chart: MetricChart): Html {
  const parts: Html[] = [];
  parts.push(html`<span>goal: ${chart.goal ?? 'none declared'}</span>`);
  if (chart.baseline) parts.push(html`<span>${chart.baseline.label}: ${formatValue(chart.baseline.value)}</span>`);
  if (chart.threshold) parts.push(html`<span class="threshold">threshold (${chart.threshold.label}): ${formatValue(chart.threshold.value)}</span>`);
  if (chart.best) parts.push(html`<span>best: ${formatValue(chart.best.value)} at ${shortSha(chart.best.commit)} ★</span>`);
  const sampled = chart.series.filter((s) => s.points.length < s.total);
  if (sampled.length > 0) parts.push(html`<span>chart downsampled (min/max per bucket)</span>`);
  return html`<p class="meta">${parts}</p>`;
}

/** What the external chart script draws from (it never reads the table). */
function chartData(view: MetricsView) {
  const repo = view.header.repo;
  return {
    commitUrl: repoPath(repo, 'commit', ''),
    charts: view.charts.map((c) => ({
      key: c.key,
      goal: c.goal,
      commits: c.commits,
      baseline: c.baseline,
      threshold: c.threshold,
      best: c.best ? { x: c.best.x, value: c.best.value, commit: c.best.commit } : null,
      series: c.series.map((s) => ({ name: view.refs.length > 1 || c.series.length > 1 ? `${s.ref} · ${s.job}` : s.job, points: s.points.map((p) => [p.x, p.value, p.commit, p.title]) })),
    })),
  };
}

function picker(view: MetricsView): Html {
  const refInputs = [...view.refs, ...(view.refs.length < MAX_REF_INPUTS ? [''] : [])];
  const keys = [...new Set([...view.offered.keys, ...view.keys])];
  return html`<form class="picker" action="${repoPath(view.header.repo, 'metrics')}" method="get">
  <div class="picker-row">
  ${refInputs.map(
    (ref, i) => html`<label>${i === 0 ? 'Branch' : 'Overlay branch'} <input type="text" name="ref" value="${ref}" placeholder="${i === 0 ? view.header.repo.defaultBranch : 'another branch'}"></label>`,
  )}
  <label>Job <select name="job"><option value="">all jobs</option>${view.offered.jobs.map((j) => html`<option value="${j}"${j === view.job ? html` selected` : ''}>${j}</option>`)}</select></label>
  </div>
  ${keys.length > 0
    ? html`<fieldset><legend>Metrics</legend>${keys.map((k) => html`<label><input type="checkbox" name="key" value="${k}"${view.keys.includes(k) ? html` checked` : ''}> ${k}</label>`)}</fieldset>`
    : html`<label>Metric <input type="text" name="key" value=""></label>`}
  <button type="submit">Show</button>
</form>`;
}

/** Charts (drawn by chart.js from the JSON block) with their tables: the page is whole without script. */
export function metricsPage(view: MetricsView): Html {
  return html`${repoHeader(view.header)}
<h2>Metrics across commits</h2>
${picker(view)}
${view.charts.length === 0
  ? html`<p class="notice">No metrics yet on ${view.refs[0]}. Jobs with a <code>metrics:</code> file report them after a successful run.</p>`
  : html`<p><a class="button" href="${selfUrl(view, { format: 'csv' })}" download>Download CSV</a></p>`}
${view.charts.map(
  (chart, i) => html`<section class="metric" id="metric-${i}">
  <h3>${chart.key}</h3>
  ${summary(chart)}
  ${chart.rows.length === 0
    ? html`<p class="muted">No values of ${chart.key} on ${view.refs.join(', ')}${view.job ? html` for job ${view.job}` : ''}.</p>`
    : html`<div class="chart" data-chart="${i}" aria-hidden="true"></div>
  ${table(view, chart, i)}`}
</section>`,
)}
${view.charts.length > 0 ? html`${jsonData('metrics-data', chartData(view))}
<script src="${view.chartJs}" defer></script>` : ''}`;
}
