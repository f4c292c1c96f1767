import type { User } from '../../domain/model.ts';
import { html, type Html } from '../html.ts';
import { type ListedRepo, type Paging, repoList } from './repo-list.ts';
import { timeAgo } from './parts.ts';

const KINDS = [
  ['', 'All'],
  ['model', 'Models'],
  ['dataset', 'Datasets'],
] as const;

export function explorePage(p: { q: string; kind: string; total: number; rows: readonly ListedRepo[]; paging: Paging }): Html {
  const filterUrl = (kind: string) => {
    const query = new URLSearchParams();
    if (p.q) query.set('q', p.q);
    if (kind) query.set('kind', kind);
    const text = query.toString();
    return text ? `/explore?${text}` : '/explore';
  };
  return html`<h1>${p.q ? html`Repositories matching “${p.q}”` : 'Explore'}</h1>
<form class="filters" action="/explore" method="get">
  ${KINDS.map(([kind, label]) => html`<a href="${filterUrl(kind)}" class="${p.kind === kind ? 'on' : ''}">${label}</a>`)}
  <span class="muted">${p.total} ${p.total === 1 ? 'repository' : 'repositories'}</span>
</form>
${repoList(p.rows, p.paging, p.q ? 'No repository matches this search.' : 'No repositories yet.')}`;
}

export function userPage(p: { user: User; isViewer: boolean; total: number; rows: readonly ListedRepo[]; paging: Paging }): Html {
  return html`<h1>${p.user.username}</h1>
<p class="meta">joined ${timeAgo(p.user.createdAt)} · ${p.total} ${p.total === 1 ? 'repository' : 'repositories'}${p.isViewer ? html` · <a href="/new">New repository</a>` : ''}</p>
${repoList(p.rows, p.paging, p.isViewer ? 'You have no repositories yet.' : 'No repositories to show.')}`;
}
