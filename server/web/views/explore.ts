import type { User } from '../../domain/model.ts';
import { html, type Html } from '../html.ts';
import { type Facet, FACETS } from '../repo-cards.ts';
import { type ListedRepo, type Paging, repoList } from './repo-list.ts';
import { timeAgo } from './parts.ts';

const KINDS = [
  ['', 'All'],
  ['model', 'Models'],
  ['dataset', 'Datasets'],
] as const;

const FACET_LABELS: Record<Facet, string> = { task: 'Task', library: 'Library', license: 'License' };

export interface ExploreView {
  readonly q: string;
  readonly kind: string;
  readonly filters: Partial<Record<Facet, string>>;
  /** The most common values of each facet among the repositories listed (or a recent sample of them). */
  readonly facets: Record<Facet, [string, number][]>;
  /** Whether the card filter looked at only the most recent matching repositories. */
  readonly capped: boolean;
  readonly total: number;
  readonly rows: readonly ListedRepo[];
  readonly paging: Paging;
}

/** Explore's URL with one setting changed (a filter set, cleared or toggled); always the first page. */
function urlWith(view: ExploreView, change: Partial<Record<'kind' | Facet, string>>): string {
  const query = new URLSearchParams();
  const settings: Record<string, string | undefined> = { q: view.q, kind: view.kind, ...view.filters, ...change };
  for (const key of ['q', 'kind', ...FACETS]) if (settings[key]) query.set(key, settings[key]!);
  const text = query.toString();
  return text ? `/explore?${text}` : '/explore';
}

function facetLinks(view: ExploreView, facet: Facet): Html {
  const active = view.filters[facet];
  const values = view.facets[facet];
  if (!active && values.length === 0) return html``;
  return html`<div class="facet"><span class="muted">${FACET_LABELS[facet]}:</span>
  ${active ? html`<a class="on" href="${urlWith(view, { [facet]: '' })}" aria-label="Clear the ${FACET_LABELS[facet].toLowerCase()} filter ${active}">${active} ×</a>` : ''}
  ${values.filter(([value]) => value !== active).map(([value, count]) => html`<a href="${urlWith(view, { [facet]: value })}">${value} <span class="muted">${count}</span></a>`)}
</div>`;
}

export function explorePage(view: ExploreView): Html {
  const filtered = FACETS.some((f) => view.filters[f]);
  return html`<h1>${view.q ? html`Repositories matching “${view.q}”` : 'Explore'}</h1>
<nav class="filters" aria-label="Filters">
  ${KINDS.map(([kind, label]) => html`<a href="${urlWith(view, { kind })}" class="${view.kind === kind ? 'on' : ''}">${label}</a>`)}
  <span class="muted">${view.total} ${view.total === 1 ? 'repository' : 'repositories'}</span>
</nav>
<div class="facets">${FACETS.map((facet) => facetLinks(view, facet))}</div>
${view.capped ? html`<p class="muted small">Card filters look at the most recently updated repositories that match; search to narrow them down.</p>` : ''}
${repoList(view.rows, view.paging, filtered || view.q ? 'No repository matches this search.' : 'No repositories yet.')}`;
}

export function userPage(p: { user: User; isViewer: boolean; total: number; rows: readonly ListedRepo[]; paging: Paging }): Html {
  return html`<h1>${p.user.username}</h1>
<p class="meta">joined ${timeAgo(p.user.createdAt)} · ${p.total} ${p.total === 1 ? 'repository' : 'repositories'}${p.isViewer ? html` · <a href="/new">New repository</a>` : ''}</p>
${repoList(p.rows, p.paging, p.isViewer ? 'You have no repositories yet.' : 'No repositories to show.')}`;
}
