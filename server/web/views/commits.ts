import type { Repo } from '../../domain/model.ts';
import type { GitCommit } from '../../domain/ports.ts';
import { html, type Html } from '../html.ts';
import { formatValue } from './metrics.ts';
import { repoPath, shortSha, timeAgo } from './parts.ts';
import { repoHeader, type RepoHeader } from './repo-header.ts';

/** The combined state of a commit's runs, as one mark. */
export type CommitState = 'success' | 'failed' | 'running' | 'queued' | 'cancelled' | 'none';

export interface Headline {
  readonly job: string;
  readonly metric: string;
  readonly value: number;
  /** Against the same job's value on the first parent; null when the parent has none. */
  readonly delta: number | null;
  readonly goal: 'maximize' | 'minimize' | null;
}

export interface CommitRow {
  readonly commit: GitCommit;
  readonly state: CommitState;
  /** "train: success, eval: failed" for the mark's title. */
  readonly detail: string;
  readonly headline: Headline | null;
}

export interface CommitsView {
  readonly header: RepoHeader;
  readonly ref: string;
  readonly rows: readonly CommitRow[];
  /** The `?after=` of the next page, or null on the last. */
  readonly next: string | null;
  readonly paged: boolean;
}

const MARKS: Record<CommitState, string> = { success: '✓', failed: '✗', running: '●', queued: '○', cancelled: '⊘', none: '' };

export function stateMark(state: CommitState, detail: string): Html {
  if (state === 'none') return html`<span class="state none" title="no runs">·</span>`;
  return html`<span class="state ${state}" title="${detail}" aria-label="${state}">${MARKS[state]}</span>`;
}

export function headlineDelta(h: Pick<Headline, 'delta' | 'goal'>): Html {
  if (h.delta === null) return html``;
  if (h.delta === 0) return html`<span class="muted">±0</span>`;
  const better = h.goal === null ? null : h.goal === 'maximize' ? h.delta > 0 : h.delta < 0;
  const cls = better === null ? 'muted' : better ? 'improved' : 'worse';
  return html`<span class="${cls}">${h.delta > 0 ? '+' : ''}${formatValue(h.delta)}</span>`;
}

export function commitTitle(message: string): string {
  return message.split('\n')[0] ?? '';
}

function row(repo: Repo, r: CommitRow): Html {
  const c = r.commit;
  const h = r.headline;
  return html`<li>
  ${stateMark(r.state, r.detail)}
  <div class="commit-main">
    <a class="title" href="${repoPath(repo, 'commit', c.sha)}">${commitTitle(c.message)}</a>
    <div class="meta"><span>${c.author.name}</span> ${timeAgo(new Date(c.author.date))}${r.state !== 'none' ? html` <a href="${repoPath(repo, 'runs')}?commit=${c.sha}">runs</a>` : ''}</div>
  </div>
  ${h ? html`<div class="headline" title="${h.job}: ${h.metric}"><span class="muted">${h.metric}</span> <b>${formatValue(h.value)}</b> ${headlineDelta(h)}</div>` : html`<div class="headline"></div>`}
  <a class="sha mono" href="${repoPath(repo, 'commit', c.sha)}">${shortSha(c.sha)}</a>
</li>`;
}

export function commitsPage(view: CommitsView): Html {
  const repo = view.header.repo;
  return html`${repoHeader(view.header)}
<h2>Commits on <span class="mono">${view.ref}</span></h2>
${view.rows.length === 0 ? html`<p class="muted">No commits.</p>` : html`<ol class="commits">${view.rows.map((r) => row(repo, r))}</ol>`}
<nav class="pages">
  ${view.paged ? html`<a href="${repoPath(repo, 'commits', view.ref)}">Newest</a>` : ''}
  ${view.next ? html`<a rel="next" href="${repoPath(repo, 'commits', view.ref)}?after=${view.next}">Older →</a>` : ''}
</nav>`;
}
