import type { MetricComparison } from '../../domain/compare.ts';
import type { Repo } from '../../domain/model.ts';
import { html, type Html } from '../html.ts';
import type { DiffLine } from '../line-diff.ts';
import { formatValue } from './metrics.ts';
import { repoPath, shortSha } from './parts.ts';
import { repoHeader, type RepoHeader } from './repo-header.ts';

export interface FileDiff {
  readonly path: string;
  readonly lines: readonly DiffLine[] | null;
  readonly note: string | null;
}

export interface CompareView {
  readonly header: RepoHeader;
  readonly baseRef: string;
  readonly headRef: string;
  readonly base: string;
  readonly head: string;
  readonly jobs: readonly { job: string; base_run: number | null; head_run: number; metrics: readonly MetricComparison[] }[];
  readonly params: { readonly base: ReadonlyMap<string, string>; readonly head: ReadonlyMap<string, string> };
  readonly diffs: readonly FileDiff[];
}

const CONTEXT = 3;

/** `/owner/repo/compare/<base>...<head>`, each ref one encoded segment. */
export function compareUrl(repo: Pick<Repo, 'owner' | 'name'>, base: string, head: string): string {
  return `${repoPath(repo, 'compare')}/${encodeURIComponent(base)}...${encodeURIComponent(head)}`;
}

function pickerForm(header: RepoHeader, base: string, head: string): Html {
  return html`<form class="picker" action="${repoPath(header.repo, 'compare')}" method="get">
  <div class="picker-row">
    <label>Base <input type="text" name="base" value="${base}" required placeholder="${header.repo.defaultBranch}"></label>
    <span aria-hidden="true">…</span>
    <label>Head <input type="text" name="head" value="${head}" required placeholder="branch, tag or commit"></label>
    <button type="submit">Compare</button>
  </div>
</form>`;
}

export function comparePickerPage(view: { header: RepoHeader; base: string; head: string }): Html {
  return html`${repoHeader(view.header)}
<h2>Compare two commits</h2>
<p class="muted">Params, metrics with regression marks, and the changes to mlproject.yaml and params.yaml between a base and a head (branches, tags or commits).</p>
${pickerForm(view.header, view.base, view.head)}`;
}

/** Direction-aware: regressed (past the manifest's threshold), better or worse by the goal, or just changed. */
function verdict(m: MetricComparison): Html {
  if (m.regressed) return html`<span class="regressed" title="${m.threshold ?? ''}">▼ regressed</span>`;
  if (m.delta === null || m.delta === 0 || m.goal === null) return html`<span class="muted">${m.delta === 0 ? 'same' : m.base === null ? 'new' : m.head === null ? 'gone' : ''}</span>`;
  const better = m.goal === 'maximize' ? m.delta > 0 : m.delta < 0;
  return better ? html`<span class="improved">▲ better</span>` : html`<span class="muted">▽ worse (within threshold)</span>`;
}

function delta(m: MetricComparison): string {
  if (m.delta === null) return '—';
  const sign = m.delta > 0 ? '+' : '';
  const rel = m.relative === null ? '' : ` (${m.relative > 0 ? '+' : ''}${(m.relative * 100).toFixed(2)}%)`;
  return `${sign}${formatValue(m.delta)}${rel}`;
}

function metricsTables(view: CompareView): Html {
  const repo = view.header.repo;
  if (view.jobs.length === 0) return html`<p class="muted">The head commit has no runs with metrics.</p>`;
  return html`${view.jobs.map(
    (j) => html`<h3>${j.job} <span class="muted">· runs ${j.base_run === null ? '—' : html`<a href="${repoPath(repo, 'runs', String(j.base_run))}">#${j.base_run}</a>`} → <a href="${repoPath(repo, 'runs', String(j.head_run))}">#${j.head_run}</a></span></h3>
<div class="table-wrap"><table class="compare">
  <thead><tr><th>Metric</th><th class="num">Base</th><th class="num">Head</th><th class="num">Delta</th><th>Goal</th><th></th></tr></thead>
  <tbody>${j.metrics.map(
    (m) => html`<tr class="${m.regressed ? 'regressed-row' : ''}"><td>${m.metric}</td><td class="num">${formatValue(m.base)}</td><td class="num">${formatValue(m.head)}</td><td class="num">${delta(m)}</td><td>${m.goal ?? ''}</td><td>${verdict(m)}</td></tr>`,
  )}</tbody>
</table></div>`,
  )}`;
}

function paramsTable(view: CompareView): Html {
  const names = [...new Set([...view.params.base.keys(), ...view.params.head.keys()])].sort();
  if (names.length === 0) return html`<p class="muted">No params in either commit.</p>`;
  return html`<div class="table-wrap"><table class="compare">
  <thead><tr><th>Param</th><th>Base</th><th>Head</th></tr></thead>
  <tbody>${names.map((name) => {
    const a = view.params.base.get(name);
    const b = view.params.head.get(name);
    return html`<tr class="${a !== b ? 'changed' : ''}"><td>${name}</td><td class="mono">${a ?? '—'}</td><td class="mono">${b ?? '—'}</td></tr>`;
  })}</tbody>
</table></div>`;
}

/** Changed lines with a few lines of context; longer unchanged stretches fold into one row. */
function diffRows(lines: readonly DiffLine[]): Html[] {
  const near = lines.map(() => false);
  lines.forEach((l, i) => {
    if (l.op === 'same') return;
    for (let k = Math.max(0, i - CONTEXT); k <= Math.min(lines.length - 1, i + CONTEXT); k++) near[k] = true;
  });
  const rows: Html[] = [];
  let skipped = 0;
  lines.forEach((l, i) => {
    if (!near[i]) {
      skipped++;
      return;
    }
    if (skipped > 0) rows.push(html`<tr class="gap"><td class="ln"></td><td class="ln"></td><td>⋯ ${skipped} unchanged line${skipped === 1 ? '' : 's'}</td></tr>`);
    skipped = 0;
    const mark = l.op === 'add' ? '+' : l.op === 'del' ? '-' : ' ';
    rows.push(html`<tr class="${l.op}"><td class="ln">${l.oldNo ?? ''}</td><td class="ln">${l.newNo ?? ''}</td><td>${mark} ${l.text}</td></tr>`);
  });
  if (skipped > 0 && rows.length > 0) rows.push(html`<tr class="gap"><td class="ln"></td><td class="ln"></td><td>⋯ ${skipped} unchanged line${skipped === 1 ? '' : 's'}</td></tr>`);
  return rows;
}

function diffBlock(d: FileDiff): Html {
  const changed = d.lines?.some((l) => l.op !== 'same');
  return html`<div class="diff">
  <h3 class="mono">${d.path}${d.note ? html` <span class="muted">· ${d.note}</span>` : ''}</h3>
  ${d.lines && changed ? html`<table><tbody>${diffRows(d.lines)}</tbody></table>` : ''}
</div>`;
}

export function comparePage(view: CompareView): Html {
  const repo = view.header.repo;
  const swap = compareUrl(repo, view.headRef, view.baseRef);
  return html`${repoHeader(view.header)}
${pickerForm(view.header, view.baseRef, view.headRef)}
<h2>${/^[0-9a-f]{40}$/.test(view.baseRef) ? shortSha(view.baseRef) : view.baseRef} <a class="mono" href="${repoPath(repo, 'commit', view.base)}">${shortSha(view.base)}</a> … ${/^[0-9a-f]{40}$/.test(view.headRef) ? shortSha(view.headRef) : view.headRef} <a class="mono" href="${repoPath(repo, 'commit', view.head)}">${shortSha(view.head)}</a></h2>
<p class="meta"><a href="${swap}">Swap base and head</a></p>
<h2>Metrics</h2>
${metricsTables(view)}
<h2>Params</h2>
${paramsTable(view)}
<h2>Changes to the manifest and params</h2>
${view.diffs.map(diffBlock)}`;
}
