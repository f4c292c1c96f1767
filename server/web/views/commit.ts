import type { MetricComparison } from '../../domain/compare.ts';
import type { Repo } from '../../domain/model.ts';
import type { CommitDiff, DiffFile, GitCommit } from '../../domain/ports.ts';
import type { Run } from '../../domain/runs/model.ts';
import { html, type Html } from '../html.ts';
import { formatValue } from './metrics.ts';
import { formatBytes, repoPath, runStatus, shortSha, timeAgo } from './parts.ts';
import { repoHeader, type RepoHeader } from './repo-header.ts';

export interface CommitMetricsJob {
  readonly job: string;
  readonly run: number;
  /** The commit the job's values are compared with: the run's baseline, else the first parent. */
  readonly baseline: { readonly sha: string; readonly label: string } | null;
  readonly baseRun: number | null;
  readonly metrics: readonly MetricComparison[];
}

export interface CommitView {
  readonly header: RepoHeader;
  readonly commit: GitCommit;
  readonly diff: CommitDiff | null;
  readonly diffCapBytes: number;
  readonly jobs: readonly CommitMetricsJob[];
  readonly runs: readonly Run[];
  readonly note: string | null;
}

function verdict(m: MetricComparison): Html {
  if (m.regressed) return html`<span class="regressed" title="${m.threshold ?? ''}">▼ regressed</span>`;
  if (m.delta === null || m.delta === 0 || m.goal === null) return html`<span class="muted">${m.delta === 0 ? 'same' : m.base === null ? 'new' : m.head === null ? 'gone' : ''}</span>`;
  const better = m.goal === 'maximize' ? m.delta > 0 : m.delta < 0;
  return better ? html`<span class="improved">▲ better</span>` : html`<span class="muted">▽ worse (within threshold)</span>`;
}

function delta(m: MetricComparison): string {
  if (m.delta === null) return '—';
  const rel = m.relative === null ? '' : ` (${m.relative > 0 ? '+' : ''}${(m.relative * 100).toFixed(2)}%)`;
  return `${m.delta > 0 ? '+' : ''}${formatValue(m.delta)}${rel}`;
}

function metricsSection(repo: Repo, jobs: readonly CommitMetricsJob[]): Html {
  if (jobs.length === 0) return html`<p class="muted">No runs with metrics on this commit.</p>`;
  return html`${jobs.map(
    (j) => html`<h3>${j.job} <span class="muted">· run <a href="${repoPath(repo, 'runs', String(j.run))}">#${j.run}</a>${j.baseline
      ? html` against <a class="mono" href="${repoPath(repo, 'commit', j.baseline.sha)}">${shortSha(j.baseline.sha)}</a> (${j.baseline.label})${j.baseRun !== null ? html`, run <a href="${repoPath(repo, 'runs', String(j.baseRun))}">#${j.baseRun}</a>` : ''}`
      : ' (no baseline)'}</span></h3>
<div class="table-wrap"><table class="compare">
  <thead><tr><th>Metric</th><th class="num">Baseline</th><th class="num">This commit</th><th class="num">Delta</th><th>Goal</th><th></th></tr></thead>
  <tbody>${j.metrics.map(
    (m) => html`<tr class="${m.regressed ? 'regressed-row' : ''}"><td>${m.metric}</td><td class="num">${formatValue(m.base)}</td><td class="num">${formatValue(m.head)}</td><td class="num">${delta(m)}</td><td>${m.goal ?? ''}</td><td>${verdict(m)}</td></tr>`,
  )}</tbody>
</table></div>`,
  )}`;
}

/** Unified diff text as rows with old and new line numbers. */
function patchRows(patch: string): Html[] {
  const rows: Html[] = [];
  let oldNo = 0;
  let newNo = 0;
  for (const line of patch.split('\n')) {
    const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$/.exec(line);
    if (hunk) {
      oldNo = Number(hunk[1]);
      newNo = Number(hunk[2]);
      rows.push(html`<tr class="gap"><td class="ln"></td><td class="ln"></td><td>${line}</td></tr>`);
    } else if (line.startsWith('+')) {
      rows.push(html`<tr class="add"><td class="ln"></td><td class="ln">${newNo++}</td><td>${line}</td></tr>`);
    } else if (line.startsWith('-')) {
      rows.push(html`<tr class="del"><td class="ln">${oldNo++}</td><td class="ln"></td><td>${line}</td></tr>`);
    } else if (line.startsWith('\\')) {
      rows.push(html`<tr class="gap"><td class="ln"></td><td class="ln"></td><td>${line}</td></tr>`);
    } else {
      rows.push(html`<tr><td class="ln">${oldNo++}</td><td class="ln">${newNo++}</td><td>${line}</td></tr>`);
    }
  }
  return rows;
}

function size(bytes: number | null): string {
  return bytes === null ? '—' : formatBytes(bytes);
}

function fileBlock(f: DiffFile, index: number): Html {
  const name = f.oldPath ? html`${f.oldPath} → ${f.path}` : html`${f.path}`;
  let body: Html;
  if (f.lfs) body = html`<p class="lfs-change">LFS object · size ${size(f.lfs.before)} -> ${size(f.lfs.after)}</p>`;
  else if (f.binary) body = html`<p class="muted pad">Binary file, not shown.</p>`;
  else if (f.patch === null) body = html`<p class="muted pad">${f.additions + f.deletions === 0 ? 'No text changes.' : 'Not shown: past the size cap of this page.'}</p>`;
  else body = html`<table><tbody>${patchRows(f.patch)}</tbody></table>`;
  return html`<div class="diff" id="diff-${index}">
  <h3 class="mono">${name} <span class="muted">· ${f.status}${f.binary ? '' : html` · <span class="improved">+${f.additions}</span> <span class="regressed">−${f.deletions}</span>`}</span></h3>
  ${body}
</div>`;
}

function diffSection(view: CommitView): Html {
  const d = view.diff;
  if (!d) return html`<p class="muted">No diff.</p>`;
  const adds = d.files.reduce((n, f) => n + f.additions, 0);
  const dels = d.files.reduce((n, f) => n + f.deletions, 0);
  return html`<p class="meta">${d.files.length} file${d.files.length === 1 ? '' : 's'} changed · <span class="improved">+${adds}</span> <span class="regressed">−${dels}</span>${d.from ? html` · against <a class="mono" href="${repoPath(view.header.repo, 'commit', d.from)}">${shortSha(d.from)}</a>` : ' · root commit'}</p>
${d.truncated ? html`<p class="warning">This diff is larger than ${formatBytes(view.diffCapBytes)}: later files show their stats only. Clone the repository to see it whole.</p>` : ''}
<ul class="diffstat">${d.files.map((f, i) => html`<li><a class="mono" href="#diff-${i}">${f.path}</a> <span class="muted">${f.lfs ? 'LFS' : f.binary ? 'binary' : html`<span class="improved">+${f.additions}</span> <span class="regressed">−${f.deletions}</span>`}</span></li>`)}</ul>
${d.files.map(fileBlock)}`;
}

function runsList(repo: Repo, runs: readonly Run[]): Html {
  if (runs.length === 0) return html`<p class="muted">No runs.</p>`;
  return html`<ul class="runs-mini">${runs.map((r) => html`<li>${runStatus(r)} <a href="${repoPath(repo, 'runs', String(r.id))}">#${r.id} ${r.job}</a> <span class="muted">${r.trigger} · ${timeAgo(r.createdAt)}</span></li>`)}</ul>`;
}

export function commitPage(view: CommitView): Html {
  const repo = view.header.repo;
  const c = view.commit;
  const [title = '', ...rest] = c.message.replace(/\n+$/, '').split('\n');
  const body = rest.join('\n').replace(/^\n+/, '');
  return html`${repoHeader(view.header)}
<section class="commit-head">
  <h2>${title}</h2>
  ${body ? html`<pre class="commit-body">${body}</pre>` : ''}
  <p class="meta"><span>${c.author.name} &lt;${c.author.email}&gt;</span> ${timeAgo(new Date(c.author.date))}
    ${c.committer.email !== c.author.email ? html`<span>committed by ${c.committer.name}</span>` : ''}</p>
  <p class="meta"><span>commit <span class="mono">${c.sha}</span></span>
    <span>${c.parents.length === 0 ? 'no parents' : html`parent${c.parents.length > 1 ? 's' : ''} ${c.parents.map((p) => html`<a class="mono" href="${repoPath(repo, 'commit', p)}">${shortSha(p)}</a> `)}`}</span>
    <a href="${repoPath(repo, 'tree', c.sha)}">Browse files</a></p>
</section>
<h2>Metrics</h2>
${metricsSection(repo, view.jobs)}
<h2>Runs</h2>
${runsList(repo, view.runs)}
${view.note !== null ? html`<h2>Note <span class="muted">(refs/notes/mlproject)</span></h2><pre class="note">${view.note}</pre>` : ''}
<h2>Changes</h2>
${diffSection(view)}`;
}
