import type { Run } from '../../domain/runs/model.ts';
import { durationMs, FINAL_STATUSES, paramsOf } from '../../domain/runs/model.ts';
import { html, type Html } from '../html.ts';
import type { LogWindow } from '../run-log.ts';
import { formatValue } from './metrics.ts';
import { formatBytes, repoPath, runStatus, shortSha, timeAgo, userPath } from './parts.ts';
import { repoHeader, type RepoHeader } from './repo-header.ts';
import { branchOf, formatDuration } from './runs.ts';

export interface RunView {
  readonly header: RepoHeader;
  readonly run: Run;
  readonly creator: string | null;
  readonly metrics: Readonly<Record<string, number>>;
  readonly outputs: readonly { name: string; type: string; oid: string; size: number }[];
  readonly log: LogWindow;
  /** The log's tail (not an earlier part asked for with ?log_end=). */
  readonly tail: boolean;
  /** The POST forms' CSRF token for writers; null hides cancel and re-run. */
  readonly csrf: string | null;
  readonly runLogJs: string;
}

function when(date: Date | null): Html | string {
  return date ? timeAgo(date) : '—';
}

function logPane(view: RunView): Html {
  const { run, log } = view;
  const repo = view.header.repo;
  const base = repoPath(repo, 'runs', String(run.id));
  // A live tail may end before a line still being written: the stream starts there.
  const live = !FINAL_STATUSES.includes(run.status) && view.tail;
  const numbered = log.start === 0;
  const lines = log.lines.map((l, i) => {
    const id = numbered ? `L${i + 1}` : `O${l.offset}`;
    return html`<div class="l" id="${id}"><a class="n" href="#${id}" aria-label="line ${numbered ? i + 1 : `at byte ${l.offset}`}">${numbered ? i + 1 : ''}</a><span class="t">${l.html}</span></div>`;
  });
  return html`<section class="log-section">
  <div class="log-head">
    <h2 id="log-title">Log</h2>
    <span class="muted">${formatBytes(log.size)}${log.start > 0 || !view.tail ? html` · showing bytes ${log.start}–${log.end}` : ''}</span>
    ${log.start > 0 ? html`<a href="${base}?log_end=${log.start}#log-title">Load earlier</a>` : ''}
    ${!view.tail ? html`<a href="${base}#log-end">Jump to the end</a>` : ''}
    <a href="${base}/log">Raw log</a>
    ${live ? html`<label class="follow"><input type="checkbox" id="follow" checked> Follow</label>` : ''}
  </div>
  <div class="log" id="log" tabindex="0" role="log" aria-labelledby="log-title"
    ${live ? html`data-events="${base}/events" data-offset="${log.end}" data-next-line="${numbered ? log.lines.length + 1 : ''}"` : ''}>${lines}${log.lines.length === 0 ? html`<div class="l empty"><span class="t muted">${live ? 'Waiting for output…' : 'No log.'}</span></div>` : ''}</div>
  <span id="log-end"></span>
</section>
${live ? html`<script src="${view.runLogJs}" defer></script>` : ''}`;
}

export function runPage(view: RunView): Html {
  const { run } = view;
  const repo = view.header.repo;
  const base = repoPath(repo, 'runs', String(run.id));
  const final = FINAL_STATUSES.includes(run.status);
  const paramRows = paramsOf(run);
  const metricNames = Object.keys(view.metrics).sort();
  const cache = run.cachedFrom !== null ? html`hit: results of <a href="${repoPath(repo, 'runs', String(run.cachedFrom))}">run #${run.cachedFrom}</a>` : run.cacheKey ? 'miss' : 'not cached';
  return html`${repoHeader(view.header)}
<div class="run-head">
  <h2>Run #${run.id} · ${run.job} <span id="run-status">${runStatus(run)}</span>${run.cancelRequested && !final ? html` <span class="badge">cancel requested</span>` : ''}</h2>
  ${view.csrf
    ? html`<div class="actions">
    ${!final ? html`<form action="${base}/cancel" method="post"><input type="hidden" name="_csrf" value="${view.csrf}"><button type="submit">Cancel</button></form>` : ''}
    <form action="${base}/rerun" method="post"><input type="hidden" name="_csrf" value="${view.csrf}"><button type="submit">Re-run</button></form>
  </div>`
    : ''}
</div>
${run.message ? html`<p class="${run.status === 'success' || run.status === 'cached' ? 'muted' : 'error-box'}">${run.message}</p>` : ''}
${run.metricProblems.length ? html`<div class="warning">${run.metricProblems.map((p) => html`<div>${p}</div>`)}</div>` : ''}
<div class="layout">
<div class="run-main">
${logPane(view)}
</div>
<aside>
  <div class="panel"><dl class="facts">
    <dt>Commit</dt><dd><a class="mono" href="${repoPath(repo, 'commit', run.commitSha)}">${shortSha(run.commitSha)}</a>${branchOf(run.ref) ? html` <span class="badge">${branchOf(run.ref)}</span>` : ''}</dd>
    <dt>Trigger</dt><dd>${run.trigger}${view.creator ? html` by <a href="${userPath(view.creator)}">${view.creator}</a>` : ''}</dd>
    <dt>Created</dt><dd>${when(run.createdAt)}</dd>
    <dt>Started</dt><dd>${when(run.startedAt)}</dd>
    <dt>Finished</dt><dd>${when(run.finishedAt)}</dd>
    <dt>Duration</dt><dd>${formatDuration(durationMs(run))}</dd>
    <dt>Attempt</dt><dd>${run.attempt} of ${run.spec.retries.max + 1}</dd>
    <dt>Cache</dt><dd>${cache}</dd>
    <dt>Image</dt><dd class="mono">${run.spec.job.image}</dd>
    ${run.runner ? html`<dt>Runner</dt><dd class="mono">${run.runner}</dd>` : ''}
    ${run.exitCode !== null ? html`<dt>Exit code</dt><dd>${run.exitCode}</dd>` : ''}
  </dl></div>
  <div class="panel"><h2>Params</h2>${paramRows.length
    ? html`<dl class="facts">${paramRows.map(([k, v]) => html`<dt class="mono">${k}</dt><dd class="mono">${v}</dd>`)}</dl>`
    : html`<p class="muted">None.</p>`}</div>
  <div class="panel"><h2>Metrics</h2>${metricNames.length
    ? html`<dl class="facts">${metricNames.map((k) => html`<dt>${k}${run.spec.primary === k ? html` <span class="badge">primary</span>` : ''}</dt><dd class="num">${formatValue(view.metrics[k]!)}</dd>`)}</dl>`
    : html`<p class="muted">${final ? 'None.' : 'When the run ends.'}</p>`}</div>
  <div class="panel"><h2>Outputs</h2>${view.outputs.length
    ? html`<ul class="outputs">${view.outputs.map(
        (o) => html`<li><a href="${base}/outputs/${o.name.split('/').map(encodeURIComponent).join('/')}">${o.name}</a> <span class="muted">${o.type} · ${formatBytes(o.size)}</span><div class="mono small sha" title="sha256">sha256 ${o.oid}</div></li>`,
      )}</ul>`
    : html`<p class="muted">None.</p>`}</div>
</aside>
</div>`;
}
