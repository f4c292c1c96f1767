import type { Run } from '../../domain/runs/model.ts';
import { durationMs, FINAL_STATUSES } from '../../domain/runs/model.ts';
import { html, type Html } from '../html.ts';
import { repoPath, runStatus, shortSha, timeAgo } from './parts.ts';
import { repoHeader, type RepoHeader } from './repo-header.ts';

export const RUN_STATUSES = ['queued', 'running', 'success', 'failed', 'cancelled', 'timed_out', 'cached', 'error'] as const;

export interface RunsFilter {
  readonly status: string;
  readonly branch: string;
  readonly job: string;
  readonly commit: string;
}

export interface RunsView {
  readonly header: RepoHeader;
  readonly filter: RunsFilter;
  readonly runs: readonly Run[];
  readonly total: number;
  readonly page: number;
  readonly perPage: number;
  readonly branches: readonly string[];
  readonly runLogJs: string;
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function branchOf(ref: string | null): string | null {
  if (!ref) return null;
  return ref.startsWith('refs/heads/') ? ref.slice(11) : ref.startsWith('refs/tags/') ? ref.slice(10) : ref;
}

function query(filter: RunsFilter, page: number): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(filter)) if (value) q.set(key, value);
  if (page > 1) q.set('page', String(page));
  const text = q.toString();
  return text ? `?${text}` : '';
}

export function runsPage(view: RunsView): Html {
  const repo = view.header.repo;
  const f = view.filter;
  const pages = Math.max(1, Math.ceil(view.total / view.perPage));
  // Runs still going: their marks follow (run-log.js polls .../runs/statuses); a page without JavaScript shows them as they were.
  const live = view.runs.some((r) => !FINAL_STATUSES.includes(r.status));
  const rows = view.runs.map(
    (r) => html`<tr data-run="${r.id}">
  <td class="run-status">${runStatus(r)}</td>
  <td><a href="${repoPath(repo, 'runs', String(r.id))}">#${r.id} ${r.job}</a>${r.message ? html`<div class="muted small">${r.message.split('\n')[0]}</div>` : ''}</td>
  <td><a class="mono" href="${repoPath(repo, 'commit', r.commitSha)}">${shortSha(r.commitSha)}</a>${branchOf(r.ref) ? html` <span class="badge">${branchOf(r.ref)}</span>` : ''}</td>
  <td class="wide">${r.trigger}</td>
  <td class="num wide">${formatDuration(durationMs(r))}</td>
  <td>${timeAgo(r.createdAt)}</td>
</tr>`,
  );
  return html`${repoHeader(view.header)}
<form class="filters runs-filter" action="${repoPath(repo, 'runs')}" method="get">
  <label>Status <select name="status"><option value="">any</option>${RUN_STATUSES.map((s) => html`<option value="${s}" ${f.status === s ? 'selected' : ''}>${s.replace('_', ' ')}</option>`)}</select></label>
  <label>Branch <input type="text" name="branch" value="${f.branch}" list="branches" size="12"></label>
  <datalist id="branches">${view.branches.map((b) => html`<option value="${b}"></option>`)}</datalist>
  <label>Job <input type="text" name="job" value="${f.job}" size="12"></label>
  ${f.commit ? html`<input type="hidden" name="commit" value="${f.commit}"><span class="badge">commit ${shortSha(f.commit)}</span>` : ''}
  <button type="submit">Filter</button>
  ${f.status || f.branch || f.job || f.commit ? html`<a href="${repoPath(repo, 'runs')}">Clear</a>` : ''}
  <span class="muted">${view.total} run${view.total === 1 ? '' : 's'}</span>
</form>
${view.runs.length === 0
  ? html`<p class="muted">No runs${f.status || f.branch || f.job || f.commit ? ' match these filters' : ' yet: push a commit with an mlproject.yaml'}.</p>`
  : html`<div class="table-wrap"><table class="runs"${live ? html` data-statuses="${repoPath(repo, 'runs', 'statuses')}"` : ''}>
  <thead><tr><th>Status</th><th>Run</th><th>Commit</th><th class="wide">Trigger</th><th class="num wide">Duration</th><th>Created</th></tr></thead>
  <tbody>${rows}</tbody>
</table></div>`}
<nav class="pages">
  ${view.page > 1 ? html`<a rel="prev" href="${repoPath(repo, 'runs')}${query(f, view.page - 1)}">← Newer</a>` : ''}
  ${pages > 1 ? html`<span class="muted">page ${view.page} of ${pages}</span>` : ''}
  ${view.page < pages ? html`<a rel="next" href="${repoPath(repo, 'runs')}${query(f, view.page + 1)}">Older →</a>` : ''}
</nav>
${live ? html`<script src="${view.runLogJs}" defer></script>` : ''}`;
}
